package lex

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

const e2eWait = 15 * time.Second

// e2eReply is the fake bot: "agent" answers a text and a TRANSFER to
// skill human; anything else is greeted with the consumer's text.
func e2eReply(v2 bool) func(fakeCall) (int, string) {
	return func(c fakeCall) (int, string) {
		text, _ := c.Body["inputText"].(string)
		attrs, _ := c.Body["sessionAttributes"].(map[string]any)
		if v2 {
			text, _ = c.Body["text"].(string)
			st, _ := c.Body["sessionState"].(map[string]any)
			attrs, _ = st["sessionAttributes"].(map[string]any)
		}
		transfer, _ := json.Marshal(map[string]any{"type": "ACTION", "params": map[string]any{"action": "TRANSFER", "data": map[string]any{"skill": "human"}}})
		var out []byte
		switch {
		case v2 && text == "agent":
			out, _ = json.Marshal(map[string]any{"sessionId": c.Session, "messages": []any{
				map[string]any{"contentType": "PlainText", "content": "Transferring you to a human."},
				map[string]any{"contentType": "CustomPayload", "content": string(transfer)}},
				"sessionState": map[string]any{"sessionAttributes": attrs, "intent": map[string]any{"name": "Agent", "state": "Fulfilled"}}})
		case v2:
			out, _ = json.Marshal(map[string]any{"sessionId": c.Session, "messages": []any{
				map[string]any{"contentType": "PlainText", "content": "Lex V2 heard: " + text}},
				"sessionState": map[string]any{"sessionAttributes": attrs, "intent": map[string]any{"name": "Greeting", "state": "Fulfilled"}}})
		case text == "agent":
			comp, _ := json.Marshal(map[string]any{"messages": []any{
				map[string]any{"type": "PlainText", "group": 1, "value": "Transferring you to a human."},
				map[string]any{"type": "CustomPayload", "group": 2, "value": string(transfer)}}})
			out, _ = json.Marshal(map[string]any{"intentName": "Agent", "message": string(comp), "messageFormat": "Composite", "dialogState": "Fulfilled", "sessionAttributes": attrs})
		default:
			out, _ = json.Marshal(map[string]any{"intentName": "Greeting", "message": "Lex V1 heard: " + text, "messageFormat": "PlainText", "dialogState": "Fulfilled", "sessionAttributes": attrs})
		}
		return 200, string(out)
	}
}

type e2eCase struct {
	vendor string
	conn   botrelay.VendorConnector
	cfg    func(string) map[string]any
	v2     bool
	heard  string
}

var e2eCases = map[string]e2eCase{
	"v1": {VendorIDV1, ConnectorV1{}, settingsV1, false, "Lex V1 heard: hi"},
	"v2": {VendorIDV2, ConnectorV2{}, settingsV2, true, "Lex V2 heard: hi"},
}

// splitSecrets separates the secret settings, as the management API stores
// them.
func splitSecrets(cfg map[string]any) (settings, secrets map[string]any) {
	secrets = map[string]any{}
	for _, k := range secretKeys {
		if v, ok := cfg[k]; ok {
			secrets[k] = v
			delete(cfg, k)
		}
	}
	return cfg, secrets
}

// TestE2E_TextReplyAndTransfer is acceptance 4: through the hub and the
// relay, a consumer's text reaches the Lex fake (signed, with the
// conversation id as user/session id and the context in BC-LP-CONTEXT),
// the consumer sees the reply, and a TRANSFER moves the conversation to
// skill human.
func TestE2E_TextReplyAndTransfer(t *testing.T) {
	for name, c := range e2eCases {
		t.Run(name, func(t *testing.T) {
			f := newFakeLex(t, creds{accessKey: testAccessKey, secret: testSecret})
			f.setReply(e2eReply(c.v2))
			r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{c.conn}})
			settings, secrets := splitSecrets(c.cfg(f.srv.URL))
			b := r.AddBot("lex-"+name, testrig.BotOptions{Vendor: c.vendor, Settings: settings, Secrets: secrets})
			r.Start(b, botrelay.BotOnline)

			cons := testrig.NewConsumer(t, r.URL, string(testrig.Account))
			cons.Open("bot")
			cons.Say("hi")
			cons.WaitTexts(e2eWait, c.heard)

			var turn *fakeCall
			for _, call := range f.Calls() {
				if call.Op == "PostText" || call.Op == "RecognizeText" {
					turn = &call
					break
				}
			}
			if turn == nil {
				t.Fatalf("no turn reached the fake: %+v", f.Calls())
			}
			if turn.Session != SessionID(cons.ConvID) {
				t.Errorf("session id %q, want the conversation id %q", turn.Session, cons.ConvID)
			}
			ra, _ := turn.Body["requestAttributes"].(map[string]any)
			ctxStr, _ := ra[ContextAttribute].(string)
			var lp struct {
				LPEvent map[string]any `json:"lpEvent"`
				LPSdes  map[string]any `json:"lpSdes"`
			}
			if err := json.Unmarshal([]byte(ctxStr), &lp); err != nil || lp.LPEvent == nil || lp.LPSdes == nil {
				t.Fatalf("BC-LP-CONTEXT = %q (%v)", ctxStr, err)
			}
			if raw, _ := json.Marshal(lp.LPEvent); !strings.Contains(string(raw), `"hi"`) {
				t.Errorf("lpEvent does not carry the consumer's message: %s", raw)
			}

			cons.Say("agent")
			cons.WaitTexts(e2eWait, c.heard, "Transferring you to a human.")
			r.WaitSkill(cons.ConvID, "human", e2eWait)

			// The session attributes went round: the second turn carried convId.
			calls := f.Calls()
			last := calls[len(calls)-1]
			for i := len(calls) - 1; i >= 0; i-- {
				if calls[i].Op == "PostText" || calls[i].Op == "RecognizeText" {
					last = calls[i]
					break
				}
			}
			attrs, _ := last.Body["sessionAttributes"].(map[string]any)
			if c.v2 {
				st, _ := last.Body["sessionState"].(map[string]any)
				attrs, _ = st["sessionAttributes"].(map[string]any)
			}
			if attrs["convId"] != cons.ConvID {
				t.Errorf("session attributes of the last turn = %v", attrs)
			}
		})
	}
}

// TestE2E_WrongCredentials is acceptance 5: with a wrong secret the
// connection test fails, the bot does not go Online, and its status names
// the check and AWS's reason without echoing the secret.
func TestE2E_WrongCredentials(t *testing.T) {
	const wrong = "WrongSecretValue/DoNotEcho+0123456789abcdef"
	for name, c := range e2eCases {
		t.Run(name, func(t *testing.T) {
			f := newFakeLex(t, creds{accessKey: testAccessKey, secret: testSecret})
			r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{c.conn}})
			cfg := c.cfg(f.srv.URL)
			cfg["secretAccessKey"] = wrong
			settings, secrets := splitSecrets(cfg)
			b := r.AddBot("lex-bad-"+name, testrig.BotOptions{Vendor: c.vendor, Settings: settings, Secrets: secrets})
			ctx := context.Background()
			if err := r.Relay.Start(ctx, b.ID); err != nil {
				t.Fatal(err)
			}
			r.WaitState(b, botrelay.BotVendorInterruption, e2eWait)
			evs, err := r.Store.BotStateEvents(ctx, b.ID, 1)
			if err != nil || len(evs) != 1 {
				t.Fatalf("state events = %+v, %v", evs, err)
			}
			ev := evs[0]
			if ev.Code != botrelay.ErrorCodePrefix+CodeTestConnection {
				t.Errorf("state code = %q, want %q", ev.Code, botrelay.ErrorCodePrefix+CodeTestConnection)
			}
			for _, want := range []string{"connection test", "GetSession", "HTTP 403", "InvalidSignatureException"} {
				if !strings.Contains(ev.Message, want) {
					t.Errorf("state message %q does not mention %q", ev.Message, want)
				}
			}
			if strings.Contains(ev.Message, wrong) || strings.Contains(ev.Message, testSecret) {
				t.Fatalf("state message echoes a secret: %q", ev.Message)
			}
			if f.Rejected() == 0 {
				t.Fatal("the fake never saw the signed request")
			}
			all, _ := r.Store.BotStateEvents(ctx, b.ID, 0)
			for _, e := range all {
				if e.State == botrelay.BotOnline {
					t.Fatalf("the bot went Online: %+v", all)
				}
			}
			t.Logf("state message: %s", ev.Message)
		})
	}
}
