package lex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/botrelay/botrelay/internal/golden"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

const testConv = "608b2868-f686-4b89-891f-497816958cfc"

const lpEvent = `{"sequence":3,"serverTimestamp":1649331017991,"event":{"type":"ContentEvent","message":"hi","contentType":"text/plain"},"conversationId":"608b2868-f686-4b89-891f-497816958cfc","dialogId":"608b2868-f686-4b89-891f-497816958cfc","metadata":[],"messageAudience":"ALL"}`

const sdes = `{"authenticatedSdes":{},"unauthenticatedSdes":{"customerInfo":{"customerInfo":{"customerStatus":"vip"}}}}`

func settingsV1(endpoint string) map[string]any {
	return map[string]any{"region": testRegion, "accessKeyId": testAccessKey, "secretAccessKey": testSecret,
		"botName": testBotName, "botAlias": testBotAlias, "endpoint": endpoint}
}

func settingsV2(endpoint string) map[string]any {
	return map[string]any{"region": testRegion, "accessKeyId": testAccessKey, "secretAccessKey": testSecret,
		"botId": testBotID, "botAliasId": testAliasID, "localeId": testLocale, "endpoint": endpoint}
}

func newBot(t *testing.T, conn botrelay.VendorConnector, cfg map[string]any, hc *http.Client) botrelay.VendorBot {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	b, err := conn.NewBot(raw, botrelay.BotEnv{BotID: "b1", AccountID: "1000", HTTPClient: hc})
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	return b
}

func turn(kind botrelay.TurnKind, text string) *botrelay.Turn {
	return &botrelay.Turn{
		Kind: kind,
		Conversation: botrelay.ConversationRef{ID: testConv, DialogID: testConv, Type: botrelay.Messaging,
			ConsumerID: "c1", SkillID: 7, SkillName: "bot"},
		Text: text, LPEvent: json.RawMessage(lpEvent), SDEs: json.RawMessage(sdes),
	}
}

type version struct {
	name string
	conn botrelay.VendorConnector
	cfg  func(string) map[string]any
}

var versions = []version{
	{"v1", ConnectorV1{}, settingsV1},
	{"v2", ConnectorV2{}, settingsV2},
}

// TestGoldenReplies replays every reply shape of §3.6 through the fake
// (signed requests, real HTTP) and compares the Reply with
// testdata/<version>/replies/<name>.golden.
func TestGoldenReplies(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join("testdata", v.name, "replies", "*.json"))
			if len(files) == 0 {
				t.Fatal("no golden inputs")
			}
			f := newFakeLex(t, creds{accessKey: testAccessKey, secret: testSecret})
			b := newBot(t, v.conn, v.cfg(f.srv.URL), f.srv.Client())
			for _, in := range files {
				name := strings.TrimSuffix(filepath.Base(in), ".json")
				t.Run(name, func(t *testing.T) {
					body, err := os.ReadFile(in)
					if err != nil {
						t.Fatal(err)
					}
					f.setReply(func(fakeCall) (int, string) { return 200, string(body) })
					tr := turn(botrelay.TurnText, "hello")
					if strings.HasPrefix(name, "chat-") {
						tr.Conversation.Type = botrelay.Chat
					}
					r, err := b.Converse(context.Background(), tr)
					if err != nil {
						t.Fatalf("Converse: %v", err)
					}
					out, _ := json.MarshalIndent(r, "", "  ")
					golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", append(out, '\n'))
				})
			}
		})
	}
}

// TestGoldenInvalid: replies the connector refuses become the error codes
// of Appendix A; the golden file holds the error.
func TestGoldenInvalid(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join("testdata", v.name, "invalid", "*.json"))
			if len(files) == 0 {
				t.Fatal("no golden inputs")
			}
			f := newFakeLex(t, creds{accessKey: testAccessKey, secret: testSecret})
			b := newBot(t, v.conn, v.cfg(f.srv.URL), f.srv.Client())
			for _, in := range files {
				name := strings.TrimSuffix(filepath.Base(in), ".json")
				t.Run(name, func(t *testing.T) {
					body, err := os.ReadFile(in)
					if err != nil {
						t.Fatal(err)
					}
					f.setReply(func(fakeCall) (int, string) { return 200, string(body) })
					r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hello"))
					if err == nil {
						t.Fatalf("Converse accepted the reply: %+v", r)
					}
					if !errors.Is(err, botrelay.ErrVendorBadReply) || !strings.HasPrefix(golden.VendorCode(err), "aivendor.lex.") {
						t.Fatalf("err = %v; want ErrVendorBadReply with an aivendor.lex code", err)
					}
					golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", []byte(err.Error()+"\n"))
				})
			}
		})
	}
}

// TestSigV4KnownVector checks the fake's verifier against the get-vanilla
// case of AWS's published Signature V4 test suite.
func TestSigV4KnownVector(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "https://example.amazonaws.com/", nil)
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
	now, _ := time.Parse(time.RFC3339, "2015-08-30T12:36:00Z")
	c := creds{accessKey: "AKIDEXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	if err := verifySigV4(r, nil, c, "us-east-1", "service", now); err != nil {
		t.Fatalf("verifier refuses AWS's test vector: %v", err)
	}
	c.secret = "wrong"
	if err := verifySigV4(r, nil, c, "us-east-1", "service", now); err == nil {
		t.Fatal("verifier accepts a wrong secret")
	}
}

// TestRequests checks what each turn kind sends: the path with the
// sanitised conversation id, the text, the session attributes with convId,
// and BC-LP-CONTEXT as a JSON string of {lpEvent, lpSdes} (F11, F14, F46).
func TestRequests(t *testing.T) {
	type tc struct {
		turn     func() *botrelay.Turn
		text     string
		checkCtx func(t *testing.T, lp map[string]any)
	}
	cases := map[string]tc{
		"text": {
			turn: func() *botrelay.Turn { return turn(botrelay.TurnText, "hi") },
			text: "hi",
			checkCtx: func(t *testing.T, lp map[string]any) {
				ev := lp["lpEvent"].(map[string]any)
				if ev["sequence"] != float64(3) || ev["conversationId"] != testConv {
					t.Errorf("lpEvent = %v", ev)
				}
			},
		},
		"welcome": {
			turn: func() *botrelay.Turn {
				tr := turn(botrelay.TurnStart, "")
				tr.LPEvent = nil
				tr.LastConsumerMessage = "where is my order"
				return tr
			},
			text: WelcomeUtterance,
			checkCtx: func(t *testing.T, lp map[string]any) {
				ev := lp["lpEvent"].(map[string]any)
				if ev["contentType"] != "welcome" || ev["lastConsumerMessage"] != "where is my order" {
					t.Errorf("lpEvent = %v", ev)
				}
			},
		},
		"chat welcome": {
			turn: func() *botrelay.Turn {
				tr := turn(botrelay.TurnStart, "")
				tr.Conversation.Type = botrelay.Chat
				return tr
			},
			text: WelcomeUtterance,
			checkCtx: func(t *testing.T, lp map[string]any) {
				if lp["lpEvent"].(map[string]any)["isWelcomeEvent"] != true {
					t.Errorf("lpEvent = %v", lp["lpEvent"])
				}
			},
		},
		"rich content": {
			turn: func() *botrelay.Turn {
				tr := turn(botrelay.TurnRichContent, botrelay.EventConsumerRichContent)
				tr.LPEvent = nil
				tr.RichContent = json.RawMessage(`{"type":"vertical","elements":[{"type":"map","la":49.82,"lo":2.02}]}`)
				return tr
			},
			text: botrelay.EventConsumerRichContent,
			checkCtx: func(t *testing.T, lp map[string]any) {
				ev := lp["lpEvent"].(map[string]any)["event"].(map[string]any)
				if ev["type"] != "RichContentEvent" || ev["content"] == nil {
					t.Errorf("lpEvent.event = %v", ev)
				}
			},
		},
		"file": {
			turn: func() *botrelay.Turn {
				tr := turn(botrelay.TurnFile, botrelay.EventConsumerFile)
				tr.File = &botrelay.File{RelativePath: "a/b.png", FileType: "PNG"}
				return tr
			},
			text: botrelay.EventConsumerFile,
		},
		"long text cut": {
			turn: func() *botrelay.Turn { return turn(botrelay.TurnText, strings.Repeat("é", 1500)) },
			text: strings.Repeat("é", MaxInputText),
		},
	}
	for _, v := range versions {
		for name, c := range cases {
			t.Run(v.name+"/"+name, func(t *testing.T) {
				f := newFakeLex(t, creds{accessKey: testAccessKey, secret: testSecret})
				b := newBot(t, v.conn, v.cfg(f.srv.URL), f.srv.Client())
				tr := c.turn()
				tr.Conversation.ID = "conv/with spaces+ü"
				if _, err := b.Converse(context.Background(), tr); err != nil {
					t.Fatal(err)
				}
				calls := f.Calls()
				if len(calls) != 1 {
					t.Fatalf("calls = %+v", calls)
				}
				got := calls[0]
				if want := SessionID("conv/with spaces+ü"); got.Session != want || want != "conv_with_spaces___" {
					t.Errorf("session id = %q, want %q", got.Session, want)
				}
				textKey, attrs := "inputText", got.Body["sessionAttributes"]
				if v.name == "v2" {
					textKey, attrs = "text", got.Body["sessionState"].(map[string]any)["sessionAttributes"]
				}
				if got.Body[textKey] != c.text {
					t.Errorf("%s = %.40q…, want %.40q…", textKey, got.Body[textKey], c.text)
				}
				if a, _ := attrs.(map[string]any); a["convId"] != "conv/with spaces+ü" {
					t.Errorf("sessionAttributes = %v", attrs)
				}
				s, ok := got.Body["requestAttributes"].(map[string]any)[ContextAttribute].(string)
				if !ok {
					t.Fatalf("requestAttributes = %v", got.Body["requestAttributes"])
				}
				var lp map[string]any
				if err := json.Unmarshal([]byte(s), &lp); err != nil {
					t.Fatalf("BC-LP-CONTEXT is not a JSON string: %v", err)
				}
				if sd, _ := lp["lpSdes"].(map[string]any); sd["unauthenticatedSdes"] == nil {
					t.Errorf("lpSdes = %v", lp["lpSdes"])
				}
				if c.checkCtx != nil {
					c.checkCtx(t, lp)
				}
			})
		}
	}
}

// TestSessionAttributesRoundTrip: the attributes Lex returns come back on
// the next turn through the vendor state, with convId (F46).
func TestSessionAttributesRoundTrip(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			f := newFakeLex(t, creds{accessKey: testAccessKey, secret: testSecret})
			b := newBot(t, v.conn, v.cfg(f.srv.URL), f.srv.Client())
			f.setReply(func(c fakeCall) (int, string) {
				if v.name == "v1" {
					return 200, `{"intentName":"Order","message":"Which flowers?","messageFormat":"PlainText","dialogState":"ElicitSlot","sessionAttributes":{"convId":"` + testConv + `","step":"2"}}`
				}
				return 200, `{"messages":[{"contentType":"PlainText","content":"Which flowers?"}],"sessionState":{"intent":{"name":"Order","state":"InProgress"},"sessionAttributes":{"convId":"` + testConv + `","step":"2"}}}`
			})
			r1, err := b.Converse(context.Background(), turn(botrelay.TurnText, "order"))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(r1.VendorState); got != `{"sessionAttributes":{"convId":"`+testConv+`","step":"2"}}` {
				t.Fatalf("VendorState = %s", got)
			}
			t2 := turn(botrelay.TurnText, "roses")
			t2.VendorState = r1.VendorState
			if _, err := b.Converse(context.Background(), t2); err != nil {
				t.Fatal(err)
			}
			calls := f.Calls()
			attrs := calls[1].Body["sessionAttributes"]
			if v.name == "v2" {
				attrs = calls[1].Body["sessionState"].(map[string]any)["sessionAttributes"]
			}
			if a := attrs.(map[string]any); a["step"] != "2" || a["convId"] != testConv {
				t.Fatalf("second turn's session attributes = %v", attrs)
			}
		})
	}
}

// tamper rewrites the body after the request was signed.
type tamper struct{ base http.RoundTripper }

func (tp tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		b = bytes.Replace(b, []byte("hello"), []byte("HELLO"), 1)
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
	}
	return tp.base.RoundTrip(r)
}

// TestSignatureRejected: the fake recomputes every signature with the test
// secret; a wrong secret, a wrong access key, a missing session token or a
// body changed after signing are refused with 403 as AWS does, and the
// client reports ErrVendorAuth with a message that names the operation and
// never the secret.
func TestSignatureRejected(t *testing.T) {
	type tc struct {
		cfg      func(map[string]any)
		fake     creds
		client   func(*http.Client) *http.Client
		wantType string
	}
	good := creds{accessKey: testAccessKey, secret: testSecret}
	cases := map[string]tc{
		"wrong secret":          {cfg: func(m map[string]any) { m["secretAccessKey"] = "not-the-secret-XYZ" }, fake: good, wantType: "InvalidSignatureException"},
		"wrong access key":      {cfg: func(m map[string]any) { m["accessKeyId"] = "AKIAOTHERKEY00000000" }, fake: good, wantType: "UnrecognizedClientException"},
		"missing session token": {cfg: func(map[string]any) {}, fake: creds{testAccessKey, testSecret, testToken}, wantType: "UnrecognizedClientException"},
		"tampered body": {cfg: func(map[string]any) {}, fake: good, wantType: "InvalidSignatureException",
			client: func(c *http.Client) *http.Client { return &http.Client{Transport: tamper{c.Transport}} }},
	}
	for _, v := range versions {
		for name, c := range cases {
			t.Run(v.name+"/"+name, func(t *testing.T) {
				f := newFakeLex(t, c.fake)
				cfg := v.cfg(f.srv.URL)
				c.cfg(cfg)
				hc := f.srv.Client()
				if c.client != nil {
					hc = c.client(hc)
				}
				b := newBot(t, v.conn, cfg, hc)
				_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hello"))
				if !errors.Is(err, botrelay.ErrVendorAuth) || golden.VendorCode(err) != CodeSendQuery {
					t.Fatalf("Converse err = %v; want ErrVendorAuth %s", err, CodeSendQuery)
				}
				if !strings.Contains(err.Error(), c.wantType) || !strings.Contains(err.Error(), "HTTP 403") {
					t.Errorf("error %q does not report the AWS error", err)
				}
				if name != "tampered body" {
					herr := b.(botrelay.HealthChecker).CheckHealth(context.Background())
					if !errors.Is(herr, botrelay.ErrVendorAuth) || golden.VendorCode(herr) != CodeTestConnection || !strings.Contains(herr.Error(), "connection test") {
						t.Fatalf("CheckHealth err = %v", herr)
					}
					err = herr
				}
				for _, secret := range []string{testSecret, "not-the-secret-XYZ", testToken} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error reveals a secret: %v", err)
					}
				}
				if f.Rejected() == 0 || len(f.Calls()) != 0 {
					t.Fatalf("fake rejected %d, accepted %d", f.Rejected(), len(f.Calls()))
				}
			})
		}
	}
}

// TestSessionTokenAndAlias: temporary credentials sign the session token;
// the $LATEST alias is escaped on the wire and double-encoded in the
// signature the same way on both sides.
func TestSessionTokenAndAlias(t *testing.T) {
	f := newFakeLex(t, creds{testAccessKey, testSecret, testToken})
	cfg := settingsV1(f.srv.URL)
	cfg["sessionToken"] = testToken
	b := newBot(t, ConnectorV1{}, cfg, f.srv.Client())
	if _, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hello")); err != nil {
		t.Fatal(err)
	}
	cfg["botAlias"] = "$LATEST"
	b = newBot(t, ConnectorV1{}, cfg, f.srv.Client())
	_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hello"))
	// The fake knows alias "prod" only: a 404 proves the signature passed.
	if errors.Is(err, botrelay.ErrVendorAuth) || !strings.Contains(err.Error(), "HTTP 404 NotFoundException") {
		t.Fatalf("err = %v; want the fake's 404 for alias $LATEST", err)
	}
}

func TestCheckHealth(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			f := newFakeLex(t, creds{accessKey: testAccessKey, secret: testSecret})
			b := newBot(t, v.conn, v.cfg(f.srv.URL), f.srv.Client()).(botrelay.HealthChecker)
			// No session yet: Lex answers not found for the session; healthy.
			if err := b.CheckHealth(context.Background()); err != nil {
				t.Fatalf("CheckHealth: %v", err)
			}
			if c := f.Calls(); len(c) != 1 || c[0].Op != "GetSession" || c[0].Session != HealthCheckSession {
				t.Fatalf("calls = %+v", c)
			}
			cfg := v.cfg(f.srv.URL)
			if v.name == "v1" {
				cfg["botName"] = "NoSuchBot"
			} else {
				cfg["botId"] = "ZZZZZ99999"
			}
			b = newBot(t, v.conn, cfg, f.srv.Client()).(botrelay.HealthChecker)
			err := b.CheckHealth(context.Background())
			if !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeTestConnection || !strings.Contains(err.Error(), "Could not find bot") {
				t.Fatalf("CheckHealth of a missing bot = %v", err)
			}
		})
	}
}

func TestHTTPErrorClasses(t *testing.T) {
	cases := map[string]struct {
		status int
		typ    string
		want   error
	}{
		"throttled":     {429, "ThrottlingException", botrelay.ErrVendorUnavailable},
		"internal":      {500, "InternalFailureException", botrelay.ErrVendorUnavailable},
		"bad gateway":   {502, "BadGatewayException", botrelay.ErrVendorUnavailable},
		"lambda failed": {424, "DependencyFailedException", botrelay.ErrVendorBadReply},
		"bad request":   {400, "BadRequestException", botrelay.ErrVendorBadReply},
		"access denied": {403, "AccessDeniedException", botrelay.ErrVendorAuth},
		"loop detected": {508, "LoopDetectedException", botrelay.ErrVendorUnavailable},
		"conflict":      {409, "ConflictException", botrelay.ErrVendorBadReply},
	}
	for _, v := range versions {
		for name, c := range cases {
			t.Run(v.name+"/"+name, func(t *testing.T) {
				f := newFakeLex(t, creds{accessKey: testAccessKey, secret: testSecret})
				f.setReply(func(fakeCall) (int, string) {
					return c.status, `{"__type":"` + c.typ + `","message":"something about ` + name + `"}`
				})
				b := newBot(t, v.conn, v.cfg(f.srv.URL), f.srv.Client())
				_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hello"))
				if !errors.Is(err, c.want) || golden.VendorCode(err) != CodeSendQuery || !strings.Contains(err.Error(), c.typ) {
					t.Fatalf("err = %v; want %v with %s", err, c.want, c.typ)
				}
			})
		}
	}
	// Transport failure.
	b := newBot(t, ConnectorV1{}, settingsV1("http://127.0.0.1:1"), nil)
	if _, err := b.Converse(context.Background(), turn(botrelay.TurnText, "x")); !errors.Is(err, botrelay.ErrVendorUnavailable) {
		t.Fatalf("err = %v", err)
	}
	// Survey turns have no Lex input.
	if _, err := b.Converse(context.Background(), turn(botrelay.TurnSurvey, "")); !errors.Is(err, botrelay.ErrUnsupported) {
		t.Fatalf("survey err = %v", err)
	}
}

func TestEndConversationV2(t *testing.T) {
	f := newFakeLex(t, creds{accessKey: testAccessKey, secret: testSecret})
	b := newBot(t, ConnectorV2{}, settingsV2(f.srv.URL), f.srv.Client())
	if _, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hello")); err != nil {
		t.Fatal(err)
	}
	e := b.(botrelay.Ender)
	ref := botrelay.ConversationRef{ID: testConv}
	if err := e.EndConversation(context.Background(), ref, nil); err != nil {
		t.Fatal(err)
	}
	// A session Lex no longer has is fine.
	if err := e.EndConversation(context.Background(), ref, nil); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls()
	if len(calls) != 3 || calls[1].Op != "DeleteSession" || calls[1].Session != testConv {
		t.Fatalf("calls = %+v", calls)
	}
	if _, ok := newBot(t, ConnectorV1{}, settingsV1(f.srv.URL), nil).(botrelay.Ender); ok {
		t.Fatal("lex_v1 should not implement Ender")
	}
}

func TestSessionID(t *testing.T) {
	long := strings.Repeat("a", 120)
	cases := map[string]struct{ in, want string }{
		"uuid":   {testConv, testConv},
		"short":  {"x", "x_"},
		"empty":  {"", "__"},
		"others": {"a b/c@d", "a_b_c_d"},
	}
	for name, c := range cases {
		if got := SessionID(c.in); got != c.want {
			t.Errorf("%s: SessionID(%q) = %q, want %q", name, c.in, got, c.want)
		}
	}
	got := SessionID(long)
	if len(got) != 100 || !sessionIDPattern.MatchString(got) || got == SessionID(long+"b") {
		t.Errorf("SessionID(long) = %q", got)
	}
}

func TestNewBot(t *testing.T) {
	cases := map[string]struct {
		conn  botrelay.VendorConnector
		edit  func(map[string]any)
		field string // "" = valid
	}{
		"v1 valid":             {ConnectorV1{}, func(map[string]any) {}, ""},
		"v1 default endpoint":  {ConnectorV1{}, func(m map[string]any) { delete(m, "endpoint") }, ""},
		"v1 latest alias":      {ConnectorV1{}, func(m map[string]any) { m["botAlias"] = "$LATEST" }, ""},
		"v1 no region":         {ConnectorV1{}, func(m map[string]any) { delete(m, "region") }, "region"},
		"v1 bad region":        {ConnectorV1{}, func(m map[string]any) { m["region"] = "Europe" }, "region"},
		"v1 no access key":     {ConnectorV1{}, func(m map[string]any) { delete(m, "accessKeyId") }, "accessKeyId"},
		"v1 bad access key":    {ConnectorV1{}, func(m map[string]any) { m["accessKeyId"] = "akia-lower" }, "accessKeyId"},
		"v1 no secret":         {ConnectorV1{}, func(m map[string]any) { delete(m, "secretAccessKey") }, "secretAccessKey"},
		"v1 secret with space": {ConnectorV1{}, func(m map[string]any) { m["secretAccessKey"] = "abc def" }, "secretAccessKey"},
		"v1 token newline":     {ConnectorV1{}, func(m map[string]any) { m["sessionToken"] = "a\nb" }, "sessionToken"},
		"v1 no bot name":       {ConnectorV1{}, func(m map[string]any) { delete(m, "botName") }, "botName"},
		"v1 bad bot name":      {ConnectorV1{}, func(m map[string]any) { m["botName"] = "my bot" }, "botName"},
		"v1 no alias":          {ConnectorV1{}, func(m map[string]any) { delete(m, "botAlias") }, "botAlias"},
		"v1 bad alias":         {ConnectorV1{}, func(m map[string]any) { m["botAlias"] = "prod/1" }, "botAlias"},
		"v1 bad endpoint":      {ConnectorV1{}, func(m map[string]any) { m["endpoint"] = "ftp://x" }, "endpoint"},
		"v1 endpoint query":    {ConnectorV1{}, func(m map[string]any) { m["endpoint"] = "https://x/?a=b" }, "endpoint"},
		"v1 unknown key":       {ConnectorV1{}, func(m map[string]any) { m["bot_name"] = "x" }, "bot_name"},
		"v1 v2 key":            {ConnectorV1{}, func(m map[string]any) { m["botId"] = testBotID }, "botId"},
		"v2 valid":             {ConnectorV2{}, func(map[string]any) {}, ""},
		"v2 bad bot id":        {ConnectorV2{}, func(m map[string]any) { m["botId"] = "short" }, "botId"},
		"v2 no alias id":       {ConnectorV2{}, func(m map[string]any) { delete(m, "botAliasId") }, "botAliasId"},
		"v2 bad locale":        {ConnectorV2{}, func(m map[string]any) { m["localeId"] = "english" }, "localeId"},
		"v2 no secret":         {ConnectorV2{}, func(m map[string]any) { m["secretAccessKey"] = "" }, "secretAccessKey"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var m map[string]any
			if _, ok := c.conn.(ConnectorV1); ok {
				m = settingsV1("https://lex.internal.example")
			} else {
				m = settingsV2("https://lex.internal.example")
			}
			c.edit(m)
			raw, _ := json.Marshal(m)
			_, err := c.conn.NewBot(raw, botrelay.BotEnv{})
			if c.field == "" {
				if err != nil {
					t.Fatalf("NewBot: %v", err)
				}
				return
			}
			if botrelay.ErrorCode(err) != botrelay.EINVALID || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("err = %v; want EINVALID naming %s", err, c.field)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error reveals the secret: %v", err)
			}
		})
	}
	// Defaults.
	raw, _ := json.Marshal(map[string]any{"region": "us-east-1", "accessKeyId": testAccessKey, "secretAccessKey": "s", "botName": "Bot", "botAlias": "live"})
	b, err := ConnectorV1{}.NewBot(raw, botrelay.BotEnv{})
	if err != nil || b.(*BotV1).settings.Endpoint != "https://runtime.lex.us-east-1.amazonaws.com" {
		t.Fatalf("default V1 endpoint: %v %v", err, b)
	}
	raw, _ = json.Marshal(map[string]any{"region": "eu-central-1", "accessKeyId": testAccessKey, "secretAccessKey": "s", "botId": testBotID, "botAliasId": testAliasID, "localeId": "de_DE"})
	b, err = ConnectorV2{}.NewBot(raw, botrelay.BotEnv{})
	if err != nil || b.(*BotV2).settings.Endpoint != "https://runtime-v2-lex.eu-central-1.amazonaws.com" {
		t.Fatalf("default V2 endpoint: %v %v", err, b)
	}
	for _, conn := range []botrelay.VendorConnector{ConnectorV1{}, ConnectorV2{}} {
		if info := conn.Info(); strings.Join(info.Secrets, ",") != "secretAccessKey,sessionToken" || info.RetriesInternally {
			t.Errorf("%s info = %+v", info.ID, info)
		}
	}
}
