package watson_test

// End-to-end tests (issue acceptance 4 and 5): the real hub, the relay and
// the liveperson adapter from internal/testrig, the watson connectors, and
// the fake Watson and IAM services of fake_test.go.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/watson"
	"github.com/botrelay/botrelay/internal/testrig"
)

const wait = 15 * time.Second

// split separates a bot's settings into the stored settings and the
// secrets, as the management API does.
func split(cfg map[string]any) (settings, secrets map[string]any) {
	settings, secrets = map[string]any{}, map[string]any{}
	for k, v := range cfg {
		if k == "apiKey" || k == "password" {
			secrets[k] = v
		} else {
			settings[k] = v
		}
	}
	return settings, secrets
}

func newRig(t *testing.T) *testrig.Rig {
	return testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{watson.V1{}, watson.V2{}}})
}

func TestE2E_ConverseAndTransfer(t *testing.T) {
	for _, c := range []struct {
		vendor string
		v2     bool
	}{{"watson_v1", false}, {"watson_v2", true}} {
		t.Run(c.vendor, func(t *testing.T) {
			r := newRig(t)
			var f *fakeWatson
			if c.v2 {
				f = newFake(t, v2Fake)
			} else {
				f = newFake(t)
			}
			settings, secrets := split(settings(f, c.v2))
			b := r.AddBot(c.vendor, testrig.BotOptions{Vendor: c.vendor, Settings: settings, Secrets: secrets})
			r.Start(b, botrelay.BotOnline)

			cons := testrig.NewConsumer(t, r.URL, "1000")
			cons.Open("bot")
			cons.Say("hi\tthere")
			// The fake's dialog answers with what it got: the text without
			// the tab, convId equal to lpEvent.conversationId, and lpSdes.
			cons.WaitTexts(wait, "You said: hithere | convId=true sdes=true")

			// The request carried the conversation's context.
			var last call
			for _, cl := range f.calls() {
				if strings.HasSuffix(cl.Path, "/message") {
					last = cl
				}
			}
			vars, _ := last.Body["context"].(map[string]any)
			if c.v2 {
				skills, _ := vars["skills"].(map[string]any)
				main, _ := skills["main skill"].(map[string]any)
				vars, _ = main["user_defined"].(map[string]any)
			}
			lp, _ := vars["lpEvent"].(map[string]any)
			if vars["convId"] != cons.ConvID || lp["conversationId"] != cons.ConvID || lp["event"] == nil {
				t.Fatalf("context sent to Watson = %v", vars)
			}
			if f.exchangeCount() != 1 {
				t.Errorf("IAM exchanges = %d, want 1 (token shared by the connection test and the turn)", f.exchangeCount())
			}

			cons.Say("agent")
			cons.WaitTexts(wait, "Transferring you to a human.")
			r.WaitSkill(cons.ConvID, "human", wait)
			if c.v2 {
				// The conversation left the bot: its session is deleted.
				testrig.Eventually(t, wait, "the Watson session to be deleted", func() bool { return f.sessionCount() == 0 })
			}
		})
	}
}

func TestE2E_WrongCredentialsKeepBotFromOnline(t *testing.T) {
	cases := map[string]struct {
		vendor      string
		v2, basic   bool
		secretKey   string
		wrong       string
		wantMessage string
	}{
		"v1 IAM":   {vendor: "watson_v1", secretKey: "apiKey", wrong: "wrong-apikey-777", wantMessage: "connection test (IAM check): IAM token exchange at"},
		"v2 IAM":   {vendor: "watson_v2", v2: true, secretKey: "apiKey", wrong: "wrong-apikey-777", wantMessage: "connection test (IAM check): IAM token exchange at"},
		"v1 basic": {vendor: "watson_v1", basic: true, secretKey: "password", wrong: "wrong-password-777", wantMessage: "connection test (get workspace " + fakeWorkspace + "): Watson refused the username and password (HTTP 401"},
		"v2 basic": {vendor: "watson_v2", v2: true, basic: true, secretKey: "password", wrong: "wrong-password-777", wantMessage: "connection test: create a session: Watson refused the username and password (HTTP 401"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			var opts []fakeOpt
			if c.v2 {
				opts = append(opts, v2Fake)
			}
			if c.basic {
				opts = append(opts, basicAuth)
			}
			f := newFake(t, opts...)
			settings, secrets := split(settings(f, c.v2))
			secrets[c.secretKey] = c.wrong
			b := r.AddBot(strings.ReplaceAll(name, " ", "-"), testrig.BotOptions{Vendor: c.vendor, Settings: settings, Secrets: secrets})
			ctx := context.Background()
			if err := r.Relay.Start(ctx, b.ID); err != nil {
				t.Fatal(err)
			}
			r.WaitState(b, botrelay.BotVendorInterruption, wait)
			// The state event is stored right after the state changes.
			var ev botrelay.BotStateEvent
			testrig.Eventually(t, wait, "the Vendor Interruption state event", func() bool {
				evs, err := r.Store.BotStateEvents(ctx, b.ID, 1)
				if err != nil || len(evs) != 1 {
					return false
				}
				ev = *evs[0]
				return ev.State == botrelay.BotVendorInterruption
			})
			if ev.State != botrelay.BotVendorInterruption || !strings.Contains(ev.Message, c.wantMessage) || ev.Code == "" {
				t.Fatalf("state event = %+v; want a message containing %q", ev, c.wantMessage)
			}
			if strings.Contains(ev.Message, c.wrong) || strings.Contains(ev.Code, c.wrong) {
				t.Fatalf("the state event echoes the secret: %+v", ev)
			}
			t.Logf("state event: %s: %s", ev.Code, ev.Message)
		})
	}
}

// TestE2E_ConnectToAgent: a connect_to_agent answer transfers to the skill
// transfer_info names, or to the bot's escalation skill, and its
// message_to_human_agent reaches the agent as a private note, never the
// consumer; it is a transfer, not an escalation (no error is logged).
func TestE2E_ConnectToAgent(t *testing.T) {
	for _, c := range []struct {
		vendor    string
		v2        bool
		say, note string
		skill     string
	}{
		{"watson_v1", false, "refund please", "Refund over 500 USD.", "refunds"},
		{"watson_v2", true, "refund please", "Refund over 500 USD.", "refunds"},
		{"watson_v1", false, "someone", "Wants a person.", "human"},
		{"watson_v2", true, "someone", "Wants a person.", "human"},
	} {
		t.Run(c.vendor+"/"+c.skill, func(t *testing.T) {
			r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{watson.V1{}, watson.V2{}}, Skills: []string{"refunds"}})
			var f *fakeWatson
			if c.v2 {
				f = newFake(t, v2Fake)
			} else {
				f = newFake(t)
			}
			settings, secrets := split(settings(f, c.v2))
			b := r.AddBot(c.vendor, testrig.BotOptions{Vendor: c.vendor, Settings: settings, Secrets: secrets})
			r.Start(b, botrelay.BotOnline)
			cons := testrig.NewConsumer(t, r.URL, "1000")
			cons.Open("bot")
			cons.Say(c.say)
			r.WaitSkill(cons.ConvID, c.skill, wait)
			evs, err := r.Store.Events(context.Background(), botrelay.ConversationID(cons.ConvID), "", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			note := false
			for _, e := range evs {
				note = note || (e.Audience == botrelay.AudienceAgentsAndManagers && strings.Contains(string(e.Event), c.note))
			}
			if !note {
				t.Fatalf("no private note %q for the agent", c.note)
			}
			for _, e := range cons.Events() {
				if strings.Contains(string(e.Event), c.note) {
					t.Fatal("the consumer received the note for the agent")
				}
			}
			if errs := r.Errors(b); len(errs) != 0 {
				t.Fatalf("a connect_to_agent transfer logged errors: %v", errs)
			}
		})
	}
}

// TestE2E_Hooks (F36; issue 15, point 2): watson bots take pre- and
// post-hooks, and the error-hook gets the reference product's vendor name
// with the request and the raw response under its keys.
func TestE2E_Hooks(t *testing.T) {
	for _, c := range []struct {
		vendor, name, reqKey, respKey string
		v2                            bool
	}{
		{"watson_v1", "WatsonAssistant", "watsonV1Payload", "watson", false},
		{"watson_v2", "WatsonAssistantV2", "watsonV2Payload", "watsonv2", true},
	} {
		t.Run(c.vendor, func(t *testing.T) {
			r := newRig(t)
			var f *fakeWatson
			if c.v2 {
				f = newFake(t, v2Fake)
			} else {
				f = newFake(t)
			}
			settings, secrets := split(settings(f, c.v2))
			b := r.AddBot(c.vendor+"-hooks", testrig.BotOptions{Vendor: c.vendor, Settings: settings, Secrets: secrets, Edit: func(b *botrelay.Bot) {
				b.Settings.Hooks = botrelay.BotHooks{
					// The pre-hook rewrites the text Watson gets; the
					// post-hook the text of Watson's answer.
					PreHook: `function lambda(input, cb) { var r = input.payload; r.input.text = r.input.text.toUpperCase(); cb(null, r); }`,
					PostHook: `function lambda(input, cb) { var r = input.payload; var g = r.output.generic;
  if (g && g.length && g[0].text) g[0].text = g[0].text + " (post-hook)"; cb(null, r); }`,
					// The error-hook throws what it got, to make it visible
					// in the error log.
					ErrorHook: `function lambda(input, cb) { var p = input.payload;
  throw new Error("error-hook got vendor=" + p.vendor + " request=" + (p["` + c.reqKey + `"] ? "yes" : "no") +
    " response=" + (p["` + c.respKey + `"] ? "yes" : "no") + " error=" + p.error.name); }`,
				}
			}})
			r.Start(b, botrelay.BotOnline)
			cons := testrig.NewConsumer(t, r.URL, "1000")
			cons.Open("bot")
			cons.Say("hello")
			cons.WaitTexts(wait, "You said: HELLO | convId=true sdes=true (post-hook)")

			// An answer the parser refuses: escalation, and the error-hook.
			bad := `{"output":{"generic":[{"response_type":"pause"}]},"context":{}}`
			if c.v2 {
				f.setReplyV2(func(map[string]any) (int, string) { return 200, asV2([]byte(bad)) })
			} else {
				f.setReplyV1(func(map[string]any) (int, string) { return 200, bad })
			}
			cons.Say("again")
			cons.WaitTexts(wait, "Let me get you a human.")
			want := "error-hook got vendor=" + c.name + " request=yes response=yes error=com.liveperson.bot-connectors-worker.error.aivendor.watson.parser.pause.undefined-time"
			testrig.Eventually(t, wait, "the error-hook's report in the error log", func() bool {
				errs, _ := r.Store.BotErrors(context.Background(), b.ID, "", 0)
				for _, e := range errs {
					if strings.Contains(e.Message, want) {
						return true
					}
				}
				return false
			})
		})
	}
}
