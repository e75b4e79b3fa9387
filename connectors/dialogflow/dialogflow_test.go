package dialogflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/botrelay/botrelay/internal/golden"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/dialogflow/apiv2/dialogflowpb"
	"cloud.google.com/go/dialogflow/cx/apiv3/cxpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/dialogflow"
)

const (
	esPrefix = "projects/test-project/agent/sessions/"
	esParent = "projects/test-project"
	cxAgent  = "projects/test-project/locations/europe-west1/agents/agent-1"
	cxPrefix = cxAgent + "/sessions/"
)

func esFake(t testing.TB) *fake { return newFake(t, esPrefix, esParent, "en-US") }
func cxFake(t testing.TB) *fake { return newFake(t, cxPrefix, cxAgent, "en") }

// esSettings are complete dialogflow_es settings (secrets included) for f.
func esSettings(f *fake, key string) map[string]any {
	return map[string]any{"languageCode": "en-US", "projectId": testProject, "clientEmail": testEmail,
		"privateKey": key, "serviceLocation": f.addr}
}

func cxSettings(f *fake, key string) map[string]any {
	return map[string]any{"languageCode": "en", "projectId": testProject, "location": "europe-west1", "agentId": "agent-1",
		"clientEmail": testEmail, "privateKey": key, "serviceLocation": f.addr}
}

func newBot(t testing.TB, c botrelay.VendorConnector, settings map[string]any) botrelay.HealthChecker {
	t.Helper()
	raw, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.NewBot(raw, botrelay.BotEnv{BotID: "bot-test"})
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	t.Cleanup(func() { _ = b.(interface{ Close() error }).Close() })
	return b.(botrelay.HealthChecker)
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func textTurn(conv, text string) *botrelay.Turn {
	return &botrelay.Turn{Kind: botrelay.TurnText, Text: text,
		Conversation: botrelay.ConversationRef{ID: botrelay.ConversationID(conv), Type: botrelay.Messaging, SkillName: "bot"},
		LPEvent:      json.RawMessage(`{"type":"ContentEvent","message":"` + text + `"}`), SDEs: json.RawMessage(`{}`)}
}

// golden case input: a turn and the vendor's response (protojson).
type goldenIn struct {
	Turn struct {
		Kind                botrelay.TurnKind `json:"kind"`
		Text                string            `json:"text"`
		LPEvent             json.RawMessage   `json:"lpEvent"`
		SDEs                json.RawMessage   `json:"sdes"`
		Metadata            json.RawMessage   `json:"metadata"`
		LastConsumerMessage string            `json:"lastConsumerMessage"`
		Skill               string            `json:"skill"`
	} `json:"turn"`
	Response json.RawMessage `json:"response"`
}

// goldenOut is what a case produces: the request the fake received and the
// reply (or the error) the connector made of the response.
type goldenOut struct {
	Request json.RawMessage `json:"request"`
	Reply   *botrelay.Reply `json:"reply,omitempty"`
	Error   *goldenErr      `json:"error,omitempty"`
}

type goldenErr struct {
	Class string `json:"class"`
	Code  string `json:"code"`
}

func (g *goldenIn) turn() *botrelay.Turn {
	skill := g.Turn.Skill
	if skill == "" {
		skill = "bot"
	}
	return &botrelay.Turn{Kind: g.Turn.Kind, Text: g.Turn.Text, LPEvent: g.Turn.LPEvent, SDEs: g.Turn.SDEs,
		Metadata: g.Turn.Metadata, LastConsumerMessage: g.Turn.LastConsumerMessage,
		Conversation: botrelay.ConversationRef{ID: "5f1c9a52-0f2e-4e55-9a7e-golden000001", Type: botrelay.Messaging, SkillName: skill}}
}

func TestGoldenES(t *testing.T) {
	f := esFake(t)
	b := newBot(t, dialogflow.ESConnector{}, esSettings(f, goodPEM))
	runGolden(t, "es", func(t *testing.T, in *goldenIn) (proto.Message, *botrelay.Reply, error) {
		res := &dialogflowpb.DetectIntentResponse{}
		if err := protojson.Unmarshal(in.Response, res); err != nil {
			t.Fatalf("response: %v", err)
		}
		f.setES(func(*dialogflowpb.DetectIntentRequest) *dialogflowpb.DetectIntentResponse { return res })
		reply, err := b.Converse(ctx(t), in.turn())
		return f.lastES(), reply, err
	})
}

func TestGoldenCX(t *testing.T) {
	f := cxFake(t)
	b := newBot(t, dialogflow.CXConnector{}, cxSettings(f, goodPEM))
	runGolden(t, "cx", func(t *testing.T, in *goldenIn) (proto.Message, *botrelay.Reply, error) {
		res := &cxpb.DetectIntentResponse{}
		if err := protojson.Unmarshal(in.Response, res); err != nil {
			t.Fatalf("response: %v", err)
		}
		f.setCX(func(*cxpb.DetectIntentRequest) *cxpb.DetectIntentResponse { return res })
		reply, err := b.Converse(ctx(t), in.turn())
		return f.lastCX(), reply, err
	})
}

func runGolden(t *testing.T, dir string, run func(*testing.T, *goldenIn) (proto.Message, *botrelay.Reply, error)) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.in.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in testdata/%s (%v)", dir, err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".in.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var in goldenIn
			if err := json.Unmarshal(raw, &in); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			req, reply, err := run(t, &in)
			out := goldenOut{Reply: reply}
			if req != nil {
				out.Request = canonical(t, protojson.Format(req))
			}
			if err != nil {
				var ve *botrelay.VendorError
				if !errors.As(err, &ve) {
					t.Fatalf("error %v is not a *VendorError", err)
				}
				out.Error = &goldenErr{Class: ve.Class.Error(), Code: ve.Code}
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden.Check(t, filepath.Join("testdata", dir, name+".golden.json"), got)
		})
	}
}

// canonical re-encodes JSON with sorted keys and fixed spacing (protojson
// output is deliberately unstable).
func canonical(t *testing.T, s string) json.RawMessage {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCharLimit: texts over the vendor limit go as DIALOGFLOW_CHAR_LIMIT
// (F6): ES over 256 characters, CX over 255; characters, not bytes.
func TestCharLimit(t *testing.T) {
	es, cx := esFake(t), cxFake(t)
	es.setES(func(*dialogflowpb.DetectIntentRequest) *dialogflowpb.DetectIntentResponse {
		return &dialogflowpb.DetectIntentResponse{QueryResult: &dialogflowpb.QueryResult{FulfillmentText: "ok"}}
	})
	cx.setCX(func(*cxpb.DetectIntentRequest) *cxpb.DetectIntentResponse {
		return &cxpb.DetectIntentResponse{QueryResult: &cxpb.QueryResult{ResponseMessages: []*cxpb.ResponseMessage{{Message: &cxpb.ResponseMessage_Text_{Text: &cxpb.ResponseMessage_Text{Text: []string{"ok"}}}}}}}
	})
	esBot := newBot(t, dialogflow.ESConnector{}, esSettings(es, goodPEM))
	cxBot := newBot(t, dialogflow.CXConnector{}, cxSettings(cx, goodPEM))
	tests := map[string]struct {
		cx        bool
		text      string
		wantEvent bool
	}{
		"es 256 ascii":     {text: strings.Repeat("a", 256)},
		"es 257 ascii":     {text: strings.Repeat("a", 257), wantEvent: true},
		"es 256 multibyte": {text: strings.Repeat("é", 256)},
		"es 257 multibyte": {text: strings.Repeat("é", 257), wantEvent: true},
		"cx 255 ascii":     {cx: true, text: strings.Repeat("a", 255)},
		"cx 256 ascii":     {cx: true, text: strings.Repeat("a", 256), wantEvent: true},
		"cx 255 multibyte": {cx: true, text: strings.Repeat("ß", 255)},
		"es short":         {text: "hello"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var event, text string
			if tc.cx {
				if _, err := cxBot.Converse(ctx(t), textTurn("conv-limit", tc.text)); err != nil {
					t.Fatal(err)
				}
				req := cx.lastCX()
				event, text = req.GetQueryInput().GetEvent().GetEvent(), req.GetQueryInput().GetText().GetText()
			} else {
				if _, err := esBot.Converse(ctx(t), textTurn("conv-limit", tc.text)); err != nil {
					t.Fatal(err)
				}
				req := es.lastES()
				event, text = req.GetQueryInput().GetEvent().GetName(), req.GetQueryInput().GetText().GetText()
			}
			if tc.wantEvent {
				if event != "DIALOGFLOW_CHAR_LIMIT" || text != "" {
					t.Errorf("event %q text %d chars, want the DIALOGFLOW_CHAR_LIMIT event", event, len(text))
				}
			} else if event != "" || text != tc.text {
				t.Errorf("event %q text %q, want the text", event, text)
			}
		})
	}
}

// TestSessionPaths: one session per conversation, in each path form.
func TestSessionPaths(t *testing.T) {
	tests := map[string]struct {
		cfg interface {
			SessionPath(botrelay.ConversationID) string
		}
		conv botrelay.ConversationID
		want string
	}{
		"es draft":       {cfg: &dialogflow.ESConfig{ProjectID: "p"}, conv: "c-1", want: "projects/p/agent/sessions/c-1"},
		"es environment": {cfg: &dialogflow.ESConfig{ProjectID: "p", Environment: "prod"}, conv: "c-1", want: "projects/p/agent/environments/prod/users/-/sessions/c-1"},
		"es regional":    {cfg: &dialogflow.ESConfig{ProjectID: "p", Location: "europe-west1"}, conv: "c-1", want: "projects/p/locations/europe-west1/agent/sessions/c-1"},
		"es global":      {cfg: &dialogflow.ESConfig{ProjectID: "p", Location: "global"}, conv: "c-1", want: "projects/p/agent/sessions/c-1"},
		"cx draft":       {cfg: &dialogflow.CXConfig{ProjectID: "p", Location: "us-central1", AgentID: "a"}, conv: "c-1", want: "projects/p/locations/us-central1/agents/a/sessions/c-1"},
		"cx environment": {cfg: &dialogflow.CXConfig{ProjectID: "p", Location: "global", AgentID: "a", EnvironmentID: "e"}, conv: "c-1", want: "projects/p/locations/global/agents/a/environments/e/sessions/c-1"},
		"long id hashed": {cfg: &dialogflow.ESConfig{ProjectID: "p"}, conv: botrelay.ConversationID(strings.Repeat("x", 40)), want: "projects/p/agent/sessions/"},
		"slash hashed":   {cfg: &dialogflow.ESConfig{ProjectID: "p"}, conv: "a/b", want: "projects/p/agent/sessions/"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := tc.cfg.SessionPath(tc.conv)
			if strings.HasSuffix(tc.want, "/") {
				id, ok := strings.CutPrefix(got, tc.want)
				if !ok || !sessionIDRe.MatchString(id) || id != tc.cfg.SessionPath(tc.conv)[len(tc.want):] {
					t.Fatalf("got %q, want %s{36-char digest}", got, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSettings: invalid settings are EINVALID errors naming the field, and
// never echo the key.
func TestSettings(t *testing.T) {
	keys(t)
	saJSON := func(m map[string]any) string {
		b, _ := json.Marshal(m)
		return string(b)
	}
	sa := map[string]any{"type": "service_account", "project_id": "from-key", "client_email": testEmail, "private_key": goodPEM}
	es := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"languageCode": "en", "projectId": "p-1", "clientEmail": testEmail, "privateKey": goodPEM}
		edit(m)
		return m
	}
	cx := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"languageCode": "en", "projectId": "p-1", "location": "global", "agentId": "a-1", "clientEmail": testEmail, "privateKey": goodPEM}
		edit(m)
		return m
	}
	none := func(map[string]any) {}
	tests := map[string]struct {
		cx       bool
		settings map[string]any
		field    string // "" = valid
	}{
		"es valid":                 {settings: es(none)},
		"es valid escaped newline": {settings: es(func(m map[string]any) { m["privateKey"] = strings.ReplaceAll(goodPEM, "\n", `\n`) })},
		"es valid json object": {settings: es(func(m map[string]any) {
			delete(m, "clientEmail")
			delete(m, "privateKey")
			delete(m, "projectId")
			m["serviceAccountJson"] = sa
		})},
		"es valid json string": {settings: es(func(m map[string]any) {
			delete(m, "clientEmail")
			delete(m, "privateKey")
			m["serviceAccountJson"] = saJSON(sa)
		})},
		"es valid full": {settings: es(func(m map[string]any) {
			m["location"] = "europe-west1"
			m["environment"] = "prod"
			m["serviceLocation"] = "europe-west1-dialogflow.googleapis.com"
			m["scopes"] = "https://www.googleapis.com/auth/cloud-platform"
		})},
		"es no language":  {settings: es(func(m map[string]any) { delete(m, "languageCode") }), field: "languageCode"},
		"es bad language": {settings: es(func(m map[string]any) { m["languageCode"] = "english please" }), field: "languageCode"},
		"es no project":   {settings: es(func(m map[string]any) { delete(m, "projectId") }), field: "projectId"},
		"es bad project":  {settings: es(func(m map[string]any) { m["projectId"] = "projects/x" }), field: "projectId"},
		"es no email":     {settings: es(func(m map[string]any) { delete(m, "clientEmail") }), field: "clientEmail"},
		"es bad email":    {settings: es(func(m map[string]any) { m["clientEmail"] = "nobody" }), field: "clientEmail"},
		"es no key":       {settings: es(func(m map[string]any) { delete(m, "privateKey") }), field: "privateKey"},
		"es garbage key":  {settings: es(func(m map[string]any) { m["privateKey"] = "secret-garbage-value" }), field: "privateKey"},
		"es broken pem": {settings: es(func(m map[string]any) {
			m["privateKey"] = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"
		}), field: "privateKey"},
		"es bad json": {settings: es(func(m map[string]any) { m["serviceAccountJson"] = "{not json" }), field: "serviceAccountJson"},
		"es json wrong type": {settings: es(func(m map[string]any) {
			m["serviceAccountJson"] = map[string]any{"type": "authorized_user", "client_email": "x@y", "private_key": "k"}
		}), field: "serviceAccountJson"},
		"es json other email":     {settings: es(func(m map[string]any) { m["clientEmail"] = "other@x.y"; m["serviceAccountJson"] = sa }), field: "clientEmail"},
		"es bad location":         {settings: es(func(m map[string]any) { m["location"] = "eu/west" }), field: "location"},
		"es bad environment":      {settings: es(func(m map[string]any) { m["environment"] = "a b" }), field: "environment"},
		"es bad service location": {settings: es(func(m map[string]any) { m["serviceLocation"] = "http://x/y" }), field: "serviceLocation"},
		"es bad port":             {settings: es(func(m map[string]any) { m["serviceLocation"] = "host:99999" }), field: "serviceLocation"},
		"es unknown key":          {settings: es(func(m map[string]any) { m["agentId"] = "x" }), field: "agentId"},
		"cx valid":                {cx: true, settings: cx(none)},
		"cx valid env":            {cx: true, settings: cx(func(m map[string]any) { m["environmentId"] = "e-1" })},
		"cx no location":          {cx: true, settings: cx(func(m map[string]any) { delete(m, "location") }), field: "location"},
		"cx no agent":             {cx: true, settings: cx(func(m map[string]any) { delete(m, "agentId") }), field: "agentId"},
		"cx agent path":           {cx: true, settings: cx(func(m map[string]any) { m["agentId"] = "projects/p/locations/l/agents/a" }), field: "agentId"},
		"cx bad environment":      {cx: true, settings: cx(func(m map[string]any) { m["environmentId"] = "x/y" }), field: "environmentId"},
		"cx no language":          {cx: true, settings: cx(func(m map[string]any) { m["languageCode"] = "" }), field: "languageCode"},
		"cx garbage key":          {cx: true, settings: cx(func(m map[string]any) { m["privateKey"] = "secret-garbage-value" }), field: "privateKey"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			raw, _ := json.Marshal(tc.settings)
			var c botrelay.VendorConnector = dialogflow.ESConnector{}
			if tc.cx {
				c = dialogflow.CXConnector{}
			}
			b, err := c.NewBot(raw, botrelay.BotEnv{})
			if tc.field == "" {
				if err != nil {
					t.Fatalf("NewBot: %v", err)
				}
				_ = b.(interface{ Close() error }).Close()
				return
			}
			if err == nil {
				t.Fatal("NewBot accepted invalid settings")
			}
			if botrelay.ErrorCode(err) != botrelay.EINVALID || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %q, want EINVALID naming %s", err, tc.field)
			}
			for _, secret := range []string{"secret-garbage-value", "c2VjcmV0", "MII"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q echoes the key", err)
				}
			}
		})
	}
}

func TestInfo(t *testing.T) {
	for _, c := range []botrelay.VendorConnector{dialogflow.ESConnector{}, dialogflow.CXConnector{}} {
		info := c.Info()
		if info.RetriesInternally || info.Survey {
			t.Errorf("%s: %+v", info.ID, info)
		}
		if strings.Join(info.Secrets, ",") != "privateKey,serviceAccountJson" {
			t.Errorf("%s secrets %v", info.ID, info.Secrets)
		}
	}
	if dialogflow.ESConnector.Info(dialogflow.ESConnector{}).ID != "dialogflow_es" || dialogflow.CXConnector.Info(dialogflow.CXConnector{}).ID != "dialogflow_cx" {
		t.Error("vendor ids")
	}
}

// TestHealthAndErrors: the connection test (GetAgent) and the classes of
// failed calls.
func TestHealthAndErrors(t *testing.T) {
	keys(t)
	tests := map[string]struct {
		cx        bool
		key       string
		deny      codes.Code
		edit      func(map[string]any)
		wantClass error
		wantIn    string
	}{
		"es ok":                {key: goodPEM},
		"cx ok":                {cx: true, key: goodPEM},
		"es ok key file":       {key: goodPEM, edit: keyFile},
		"cx wrong key file":    {cx: true, key: wrongPEM, edit: keyFile, wantClass: botrelay.ErrVendorAuth, wantIn: "credentials were refused"},
		"es wrong key":         {key: wrongPEM, wantClass: botrelay.ErrVendorAuth, wantIn: "GetAgent projects/test-project/agent"},
		"cx wrong key":         {cx: true, key: wrongPEM, wantClass: botrelay.ErrVendorAuth, wantIn: "GetAgent " + cxAgent},
		"es permission denied": {key: goodPEM, deny: codes.PermissionDenied, wantClass: botrelay.ErrVendorAuth, wantIn: "lacks permission"},
		"cx unavailable":       {cx: true, key: goodPEM, deny: codes.Unavailable, wantClass: botrelay.ErrVendorUnavailable, wantIn: "unavailable"},
		"cx quota":             {cx: true, key: goodPEM, deny: codes.ResourceExhausted, wantClass: botrelay.ErrVendorUnavailable},
		"cx unknown agent":     {cx: true, key: goodPEM, edit: func(m map[string]any) { m["agentId"] = "other" }, wantClass: botrelay.ErrVendorBadReply, wantIn: "not found"},
		"es unknown project":   {key: goodPEM, edit: func(m map[string]any) { m["projectId"] = "other-project" }, wantClass: botrelay.ErrVendorBadReply, wantIn: "not found"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var f *fake
			var s map[string]any
			var c botrelay.VendorConnector
			code := dialogflow.CodeESTestConnection
			if tc.cx {
				f, c, code = cxFake(t), dialogflow.CXConnector{}, dialogflow.CodeCXTestConnection
				s = cxSettings(f, tc.key)
			} else {
				f, c = esFake(t), dialogflow.ESConnector{}
				s = esSettings(f, tc.key)
			}
			if tc.edit != nil {
				tc.edit(s)
			}
			f.setDeny(tc.deny)
			err := newBot(t, c, s).CheckHealth(ctx(t))
			if tc.wantClass == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *botrelay.VendorError
			if !errors.As(err, &ve) || !errors.Is(err, tc.wantClass) || ve.Code != code {
				t.Fatalf("error %v, want %v with code %s", err, tc.wantClass, code)
			}
			if !strings.Contains(err.Error(), tc.wantIn) || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("error %q, want it to contain %q and no key", err, tc.wantIn)
			}
		})
	}
}

// keyFile moves the key into serviceAccountJson, as a string.
func keyFile(m map[string]any) {
	b, _ := json.Marshal(map[string]any{"type": "service_account", "project_id": testProject, "private_key_id": "k1",
		"client_email": m["clientEmail"], "private_key": m["privateKey"], "token_uri": "https://oauth2.googleapis.com/token"})
	delete(m, "clientEmail")
	delete(m, "privateKey")
	delete(m, "projectId")
	m["serviceAccountJson"] = string(b)
}

// TestConverseErrors: failed DetectIntent calls carry the send codes.
func TestConverseErrors(t *testing.T) {
	tests := map[string]struct {
		cx        bool
		deny      codes.Code
		wantClass error
		wantCode  string
	}{
		"es unauthenticated": {deny: codes.Unauthenticated, wantClass: botrelay.ErrVendorAuth, wantCode: dialogflow.CodeESSendQuery},
		"es unavailable":     {deny: codes.Unavailable, wantClass: botrelay.ErrVendorUnavailable, wantCode: dialogflow.CodeESSendQuery},
		"cx denied":          {cx: true, deny: codes.PermissionDenied, wantClass: botrelay.ErrVendorAuth, wantCode: dialogflow.CodeCXSendRequest},
		"cx invalid":         {cx: true, deny: codes.InvalidArgument, wantClass: botrelay.ErrVendorBadReply, wantCode: dialogflow.CodeCXSendRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var f *fake
			var b botrelay.HealthChecker
			if tc.cx {
				f = cxFake(t)
				b = newBot(t, dialogflow.CXConnector{}, cxSettings(f, goodPEM))
			} else {
				f = esFake(t)
				b = newBot(t, dialogflow.ESConnector{}, esSettings(f, goodPEM))
			}
			f.setDeny(tc.deny)
			_, err := b.Converse(ctx(t), textTurn("conv-err", "hi"))
			var ve *botrelay.VendorError
			if !errors.As(err, &ve) || !errors.Is(err, tc.wantClass) || ve.Code != tc.wantCode {
				t.Fatalf("error %v, want %v with code %s", err, tc.wantClass, tc.wantCode)
			}
		})
	}
}

// TestDeadline: Converse honours the context's deadline.
func TestDeadline(t *testing.T) {
	f := esFake(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.setES(func(*dialogflowpb.DetectIntentRequest) *dialogflowpb.DetectIntentResponse {
		<-release
		return &dialogflowpb.DetectIntentResponse{}
	})
	b := newBot(t, dialogflow.ESConnector{}, esSettings(f, goodPEM))
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := b.Converse(c, textTurn("conv-slow", "hi"))
	if !errors.Is(err, botrelay.ErrVendorUnavailable) {
		t.Fatalf("error %v, want unavailable", err)
	}
}
