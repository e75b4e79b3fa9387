package dialogflow_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/dialogflow/apiv2/dialogflowpb"
	"cloud.google.com/go/dialogflow/cx/apiv3/cxpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/dialogflow"
	"github.com/botrelay/botrelay/internal/testrig"
)

// e2e runs one vendor through the whole product: hub, liveperson adapter,
// relay, connector, official client, gRPC, fake Dialogflow.
type e2e struct {
	vendor   string
	fake     func(testing.TB) *fake
	settings func(*fake, string) map[string]any
	// answer installs the fake's script: "hi" → a greeting; "agent" → a
	// text and a TRANSFER to human.
	answer func(*fake)
	// sent returns the session, the text and the payload of every query.
	sent     func(*fake) []sentQuery
	testCode string
}

type sentQuery struct {
	session, text string
	payload       map[string]any
}

var e2eVendors = map[string]e2e{
	"es": {
		vendor: dialogflow.ESVendorID, fake: esFake, settings: esSettings, testCode: dialogflow.CodeESTestConnection,
		answer: func(f *fake) {
			f.setES(func(req *dialogflowpb.DetectIntentRequest) *dialogflowpb.DetectIntentResponse {
				qr := &dialogflowpb.QueryResult{QueryText: req.GetQueryInput().GetText().GetText()}
				switch qr.QueryText {
				case "agent":
					qr.FulfillmentMessages = []*dialogflowpb.Intent_Message{esText("Transferring you to a human")}
					qr.Action = "TRANSFER"
					qr.Parameters, _ = structpb.NewStruct(map[string]any{"skill": "human"})
				default:
					qr.FulfillmentMessages = []*dialogflowpb.Intent_Message{esText("Hello from Dialogflow ES")}
				}
				return &dialogflowpb.DetectIntentResponse{ResponseId: "r", QueryResult: qr}
			})
		},
		sent: func(f *fake) (out []sentQuery) {
			for _, r := range f.esRequests() {
				out = append(out, sentQuery{r.GetSession(), r.GetQueryInput().GetText().GetText(), r.GetQueryParams().GetPayload().AsMap()})
			}
			return out
		},
	},
	"cx": {
		vendor: dialogflow.CXVendorID, fake: cxFake, settings: cxSettings, testCode: dialogflow.CodeCXTestConnection,
		answer: func(f *fake) {
			f.setCX(func(req *cxpb.DetectIntentRequest) *cxpb.DetectIntentResponse {
				// CX echoes the query in queryResult.text.
				qr := &cxpb.QueryResult{Query: &cxpb.QueryResult_Text{Text: req.GetQueryInput().GetText().GetText()}}
				switch req.GetQueryInput().GetText().GetText() {
				case "agent":
					action, _ := structpb.NewStruct(map[string]any{"action": map[string]any{"name": "TRANSFER", "parameters": map[string]any{"skill": "human"}}})
					qr.ResponseMessages = []*cxpb.ResponseMessage{cxText("Transferring you to a human"), {Message: &cxpb.ResponseMessage_Payload{Payload: action}}}
				default:
					qr.ResponseMessages = []*cxpb.ResponseMessage{cxText("Hello from Dialogflow CX")}
				}
				return &cxpb.DetectIntentResponse{ResponseId: "r", QueryResult: qr}
			})
		},
		sent: func(f *fake) (out []sentQuery) {
			for _, r := range f.cxRequests() {
				out = append(out, sentQuery{r.GetSession(), r.GetQueryInput().GetText().GetText(), r.GetQueryParams().GetPayload().AsMap()})
			}
			return out
		},
	},
}

func esText(s string) *dialogflowpb.Intent_Message {
	return &dialogflowpb.Intent_Message{Message: &dialogflowpb.Intent_Message_Text_{Text: &dialogflowpb.Intent_Message_Text{Text: []string{s}}}}
}

func cxText(s string) *cxpb.ResponseMessage {
	return &cxpb.ResponseMessage{Message: &cxpb.ResponseMessage_Text_{Text: &cxpb.ResponseMessage_Text{Text: []string{s}}}}
}

// split separates the secret settings, as the management API stores them.
func split(all map[string]any) (settings, secrets map[string]any) {
	settings, secrets = map[string]any{}, map[string]any{}
	for k, v := range all {
		if k == "privateKey" || k == "serviceAccountJson" {
			secrets[k] = v
		} else {
			settings[k] = v
		}
	}
	return settings, secrets
}

// TestE2E_ConverseAndTransfer (acceptance 4): a consumer's text reaches the
// fake with the conversation's session and context, the consumer sees the
// reply, and TRANSFER moves the conversation to skill human.
func TestE2E_ConverseAndTransfer(t *testing.T) {
	for name, v := range e2eVendors {
		t.Run(name, func(t *testing.T) {
			f := v.fake(t)
			v.answer(f)
			r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{dialogflow.ESConnector{}, dialogflow.CXConnector{}}})
			settings, secrets := split(v.settings(f, goodPEM))
			b := r.AddBot("df-"+name, testrig.BotOptions{Vendor: v.vendor, Settings: settings, Secrets: secrets,
				Edit: func(b *botrelay.Bot) { b.Settings.Messaging.EngagementAttributes = true }})
			r.Start(b, botrelay.BotOnline)

			c := testrig.NewConsumer(t, r.URL, string(testrig.Account))
			sdes := map[string]any{"unauthenticatedSdes": map[string]any{"customerInfo": map[string]any{"customerId": "cust-42"}}}
			c.OpenWith("bot", map[string]any{"lpSdes": sdes})
			c.Say("hi")
			c.WaitTexts(15*time.Second, "Hello from Dialogflow "+strings.ToUpper(name))

			sent := v.sent(f)
			if len(sent) != 1 {
				t.Fatalf("%d queries reached Dialogflow, want 1", len(sent))
			}
			q := sent[0]
			if !strings.HasSuffix(q.session, "/sessions/"+c.ConvID) || q.text != "hi" {
				t.Errorf("query session %q text %q, want the conversation %s and \"hi\"", q.session, q.text, c.ConvID)
			}
			lp, _ := json.Marshal(q.payload["lpEvent"])
			if !strings.Contains(string(lp), `"message":"hi"`) {
				t.Errorf("lpEvent %s does not carry the consumer's event", lp)
			}
			gotSDEs, _ := json.Marshal(q.payload["lpSdes"])
			wantSDEs, _ := json.Marshal(sdes)
			if string(gotSDEs) != string(wantSDEs) {
				t.Errorf("lpSdes %s, want %s", gotSDEs, wantSDEs)
			}

			c.Say("agent")
			c.WaitTexts(15*time.Second, "Transferring you to a human")
			r.WaitSkill(c.ConvID, botrelay.SkillNameHuman, 15*time.Second)
			if errs := r.Errors(b); len(errs) != 0 {
				t.Errorf("conversation errors %v, want none", errs)
			}
		})
	}
}

// TestE2E_WrongCredentials (acceptance 5): a key Google refuses, or a
// service account without permission, keeps the bot out of Online; its
// status names the connection test and the cause, and never the key.
func TestE2E_WrongCredentials(t *testing.T) {
	type variant struct {
		key    func() string
		deny   codes.Code
		reason string
	}
	keys(t)
	variants := map[string]variant{
		"wrong key":         {key: func() string { return wrongPEM }, reason: "the service-account credentials were refused"},
		"permission denied": {key: func() string { return goodPEM }, deny: codes.PermissionDenied, reason: "the service account lacks permission"},
	}
	for vname, v := range e2eVendors {
		for cname, tc := range variants {
			t.Run(vname+" "+cname, func(t *testing.T) {
				f := v.fake(t)
				v.answer(f)
				f.setDeny(tc.deny)
				r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{dialogflow.ESConnector{}, dialogflow.CXConnector{}}})
				key := tc.key()
				settings, secrets := split(v.settings(f, key))
				b := r.AddBot("df-bad", testrig.BotOptions{Vendor: v.vendor, Settings: settings, Secrets: secrets})
				ctx := context.Background()
				if err := r.Relay.Start(ctx, b.ID); err != nil {
					t.Fatal(err)
				}
				r.WaitState(b, botrelay.BotVendorInterruption, 15*time.Second)
				var evs []*botrelay.BotStateEvent
				var last *botrelay.BotStateEvent
				testrig.Eventually(t, 15*time.Second, "a stored Vendor Interruption event", func() bool {
					evs, _ = r.Store.BotStateEvents(ctx, b.ID, 0)
					for _, e := range evs {
						if e.State == botrelay.BotVendorInterruption {
							last = e
							return true
						}
					}
					return false
				})
				for _, e := range evs {
					if e.State == botrelay.BotOnline {
						t.Fatalf("the bot went Online with wrong credentials: %+v", evs)
					}
				}
				if !strings.HasSuffix(last.Code, v.testCode) || !strings.Contains(last.Message, "connection test (GetAgent") || !strings.Contains(last.Message, tc.reason) {
					t.Errorf("state event code %q message %q, want %s naming the connection test and %q", last.Code, last.Message, v.testCode, tc.reason)
				}
				body := strings.Split(strings.TrimSpace(key), "\n")[1]
				if strings.Contains(last.Message, body) || strings.Contains(last.Message, "PRIVATE KEY") {
					t.Errorf("the state message echoes the key: %q", last.Message)
				}
				if sent := v.sent(f); len(sent) != 0 {
					t.Errorf("%d queries reached Dialogflow", len(sent))
				}
			})
		}
	}
}

// TestE2E_Hooks (F36; issue 15, point 2): Dialogflow bots take pre- and
// post-hooks over the DetectIntent request and response in their JSON
// form, and the error-hook gets the vendor name of the reference product
// with both under its keys.
func TestE2E_Hooks(t *testing.T) {
	hookNames := map[string][3]string{
		"es": {"DialogflowV2", "dfV2request", "dialogflowv2"},
		"cx": {"DialogflowCX", "dfCxrequest", "dialogflowcx"},
	}
	for name, v := range e2eVendors {
		t.Run(name, func(t *testing.T) {
			f := v.fake(t)
			v.answer(f)
			r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{dialogflow.ESConnector{}, dialogflow.CXConnector{}}})
			settings, secrets := split(v.settings(f, goodPEM))
			msgs := "fulfillmentMessages"
			if name == "cx" {
				msgs = "responseMessages"
			}
			hn := hookNames[name]
			b := r.AddBot("df-hooks-"+name, testrig.BotOptions{Vendor: v.vendor, Settings: settings, Secrets: secrets,
				Edit: func(b *botrelay.Bot) {
					b.Settings.Hooks = botrelay.BotHooks{
						PreHook: `function lambda(input, cb) { var r = input.payload; r.queryInput.text.text = r.queryInput.text.text.toUpperCase(); cb(null, r); }`,
						PostHook: `function lambda(input, cb) { var r = input.payload; var m = r.queryResult.` + msgs + `[0].text;
  if ((r.queryResult.queryText || r.queryResult.text) === "BOOM") throw new Error("post-hook refused");
  m.text[0] = m.text[0] + " (post-hook)"; cb(null, r); }`,
						ErrorHook: `function lambda(input, cb) { var p = input.payload;
  throw new Error("error-hook got vendor=" + p.vendor + " request=" + (p["` + hn[1] + `"] && p["` + hn[1] + `"].queryInput ? "yes" : "no") +
    " response=" + (p["` + hn[2] + `"] && p["` + hn[2] + `"].queryResult ? "yes" : "no")); }`,
					}
				}})
			r.Start(b, botrelay.BotOnline)
			c := testrig.NewConsumer(t, r.URL, string(testrig.Account))
			c.Open("bot")
			c.Say("hi")
			c.WaitTexts(15*time.Second, "Hello from Dialogflow "+strings.ToUpper(name)+" (post-hook)")
			if sent := v.sent(f); len(sent) != 1 || sent[0].text != "HI" {
				t.Fatalf("Dialogflow got %+v, want the text the pre-hook made: HI", sent)
			}
			c.Say("boom")
			c.WaitTexts(15*time.Second, "Let me get you a human.")
			want := "error-hook got vendor=" + hn[0] + " request=yes response=yes"
			testrig.Eventually(t, 15*time.Second, "the error-hook's report in the error log", func() bool {
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
