package function

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/botrelay/botrelay/internal/golden"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/botrelay/botrelay"
)

func TestInfo(t *testing.T) {
	want := botrelay.VendorInfo{ID: "function", DisplayName: "JavaScript function", Survey: true}
	if got := (Connector{}).Info(); got.ID != want.ID || got.DisplayName != want.DisplayName || got.Survey != want.Survey || got.Secrets != nil {
		t.Errorf("Info() = %+v, want %+v", got, want)
	}
}

func TestSettings(t *testing.T) {
	ok := `function lambda(input, callback) { callback(null, {messages: ["x"]}); }`
	cases := map[string]struct {
		cfg     string
		wantErr string // the EINVALID message; "" for valid settings
		check   func(t *testing.T, b *Bot)
	}{
		"defaults": {cfg: string(settings(ok, "")), check: func(t *testing.T, b *Bot) {
			if b.timeout != DefaultTimeout || b.memLimit != DefaultMemoryLimitMB<<20 {
				t.Errorf("timeout %v, memory %d", b.timeout, b.memLimit)
			}
		}},
		"all fields": {cfg: string(settings(ok, `"timeoutMs":60000,"memoryLimitMB":8,"env":{"API_KEY":"x","_B2":"y"}`)), check: func(t *testing.T, b *Bot) {
			if b.timeout.Milliseconds() != 60000 || b.memLimit != 8<<20 || b.env["API_KEY"] != "x" {
				t.Errorf("timeout %v, memory %d, env %v", b.timeout, b.memLimit, b.env)
			}
		}},
		"not an object":        {cfg: `[1]`, wantErr: "settings: not a JSON object"},
		"not JSON":             {cfg: `{"code":`, wantErr: "settings: not a JSON object"},
		"no code":              {cfg: `{}`, wantErr: "code: is required"},
		"blank code":           {cfg: `{"code":"  \n "}`, wantErr: "code: is required"},
		"code not a string":    {cfg: `{"code":42}`, wantErr: "code: must be a string"},
		"timeout too long":     {cfg: string(settings(ok, `"timeoutMs":60001`)), wantErr: "timeoutMs: must be between 1 and 60000"},
		"timeout negative":     {cfg: string(settings(ok, `"timeoutMs":-5`)), wantErr: "timeoutMs: must be between 1 and 60000"},
		"timeout not a number": {cfg: string(settings(ok, `"timeoutMs":"30s"`)), wantErr: "timeoutMs: must be an integer"},
		"memory too small":     {cfg: string(settings(ok, `"memoryLimitMB":4`)), wantErr: "memoryLimitMB: must be between 8 and 1024"},
		"memory too large":     {cfg: string(settings(ok, `"memoryLimitMB":4096`)), wantErr: "memoryLimitMB: must be between 8 and 1024"},
		"env bad name":         {cfg: string(settings(ok, `"env":{"1BAD":"x"}`)), wantErr: `env: "1BAD" is not a valid variable name`},
		"env not strings":      {cfg: string(settings(ok, `"env":{"A":1}`)), wantErr: "env: must be an object of strings"},
		"unknown field":        {cfg: string(settings(ok, `"timeout":5`)), wantErr: "timeout: unknown setting"},
		"syntax error": {cfg: string(settings("function lambda(input, callback) {\n  const a = 1;\n  callback(null, {messages: [a +]});\n}", "")),
			wantErr: "code: SyntaxError at line 3: Unexpected token ]"},
		"redeclared let": {cfg: string(settings("let a = 1;\n\nlet a = 2;\nfunction lambda(i, c) {}", "")),
			wantErr: "code: SyntaxError at line 3: Identifier 'a' has already been declared"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			vb, err := Connector{}.NewBot(json.RawMessage(tc.cfg), botrelay.BotEnv{BotID: "b"})
			if tc.wantErr != "" {
				if !errors.Is(err, botrelay.ErrInvalid) || botrelay.ErrorMessage(err) != tc.wantErr {
					t.Fatalf("error %v, want EINVALID %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, vb.(*Bot))
		})
	}
}

func TestCheckHealth(t *testing.T) {
	cases := map[string]struct {
		code    string
		wantErr string
	}{
		"classic lambda":    {code: `function lambda(input, callback) {}`},
		"module.exports":    {code: `module.exports = function (input, callback) {};`},
		"no lambda":         {code: `function main(input, callback) {}`, wantErr: "defines no function lambda"},
		"lambda not a func": {code: `var lambda = 42;`, wantErr: "defines no function lambda"},
		"top level throws":  {code: `null.x; function lambda(input, callback) {}`, wantErr: "TypeError"},
		"top level require": {code: `const { Toolbelt } = require("lp-faas-toolbelt"); function lambda(input, callback) {}`, wantErr: "ReferenceError: require is not defined"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b, _ := newBot(t, tc.code, "")
			err := b.CheckHealth(context.Background())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ve := wantVendorError(t, err, botrelay.ErrVendorBadReply, CodeInvokeLambda)
			if !strings.Contains(ve.Message, tc.wantErr) {
				t.Errorf("message %q lacks %q", ve.Message, tc.wantErr)
			}
		})
	}
	t.Run("endless top level", func(t *testing.T) {
		b, _ := newBot(t, `while (true) {} function lambda() {}`, `"timeoutMs":200`)
		wantVendorError(t, b.CheckHealth(context.Background()), botrelay.ErrVendorUnavailable, CodeInvokeLambda)
	})
}

// TestExampleBot runs testdata/example.js, written in the reference
// product's shape, unchanged; replies are in testdata/example/<case>.golden.
func TestExampleBot(t *testing.T) {
	code, err := os.ReadFile("testdata/example.js")
	if err != nil {
		t.Fatal(err)
	}
	chat := botrelay.ConversationRef{ID: "chat-1", Type: botrelay.Chat}
	cases := map[string]*botrelay.Turn{
		"welcome":                {Kind: botrelay.TurnStart, Conversation: chat},
		"welcome-after-transfer": {Kind: botrelay.TurnStart, Conversation: messagingConv, LastConsumerMessage: "where is my order"},
		"hi":                     textTurn("hi"),
		"hi-with-sdes": func() *botrelay.Turn {
			turn := textTurn("Hello")
			turn.SDEs = json.RawMessage(`{"unauthenticatedSdes":{"personalInfo":{"serverTimeStamp":"1","personalInfo":{"name":"Ann"}}},"authenticatedSdes":{}}`)
			return turn
		}(),
		"menu":    textTurn("menu"),
		"card":    textTurn("card"),
		"agent":   textTurn("agent"),
		"urgent":  textTurn("urgent"),
		"bye":     textTurn("bye"),
		"silence": textTurn(" "),
		"other":   textTurn("what is the meaning of life"),
		"location": {Kind: botrelay.TurnRichContent, Conversation: messagingConv, Text: botrelay.EventConsumerRichContent,
			RichContent: json.RawMessage(`{"type":"vertical","elements":[{"type":"map","la":49.82,"lo":2.02,"alt":"49.82, 2.02"}]}`)},
		"file": {Kind: botrelay.TurnFile, Conversation: messagingConv, Text: botrelay.EventConsumerFile,
			File: &botrelay.File{RelativePath: "/f/1.png", FileType: "PNG"}},
	}
	b, _ := newBot(t, string(code), "")
	if err := b.CheckHealth(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, turn := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := converse(t, b, turn)
			golden.Check(t, filepath.Join("testdata", "example/"+name+".golden"), render(r, err))
		})
	}
}
