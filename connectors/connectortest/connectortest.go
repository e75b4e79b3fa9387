// Package connectortest is the conformance suite every vendor connector
// runs against its wire-exact fake, as sqlstore/storetest is the store's:
// a reply and the hooks round trip, a cancelled call, and, for vendors
// spoken to over HTTP, a hung vendor, 5xx, 429 with and without
// Retry-After, garbage and empty bodies — each failure classified, with
// one of the connector's declared error codes, no secret in an error or a
// log line — and the error codes listed in the connector's docs page.
//
// A connector package runs it from a test:
//
//	func TestConformance(t *testing.T) {
//		connectortest.Run(t, connectortest.Harness{Connector: Connector{}, Bot: …, Doc: "rasa.md"})
//	}
//
// and cmd/botrelay's tests fail for a registered vendor whose package does
// not.
package connectortest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// Harness is what a connector gives the suite.
type Harness struct {
	Connector botrelay.VendorConnector
	// Bot starts the vendor's wire-exact fake (stopped when t ends) and
	// returns the settings of a bot that talks to it, secrets included,
	// and the HTTP client that reaches it (nil: a plain one). The suite
	// puts its fault injection between that client and the fake.
	Bot func(t *testing.T) (settings json.RawMessage, client *http.Client)
	// Env, when set, completes the bot's environment (a token signer).
	Env func(*botrelay.BotEnv)
	// Tune, when set, adjusts each new bot for tests (shorter retry
	// pauses than the vendor's documented ones).
	Tune func(botrelay.VendorBot)
	// Turn is the turn the fake answers with a reply; default a text turn
	// "hello" of a messaging conversation.
	Turn func() *botrelay.Turn
	// Secrets are the secret values in the settings: never in an error
	// message or a log line.
	Secrets []string
	// Doc is the connector's page under docs/vendors, e.g. "watson.md".
	Doc string
	// NotHTTP: the connector makes no HTTP calls of its own (an
	// in-process function, or gRPC); the HTTP fault cases are skipped.
	NotHTTP bool
}

// Run runs the suite for h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	info := h.Connector.Info()
	if info.ID == "" {
		t.Fatal("the connector has no id")
	}
	t.Run("ErrorCodes", func(t *testing.T) { checkCodes(t, h, info) })
	t.Run("Reply", func(t *testing.T) { replyAndHooks(t, h) })
	t.Run("Cancelled", func(t *testing.T) { cancelled(t, h) })
	if h.NotHTTP {
		return
	}
	for _, c := range faultCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}

// rig is one bot with its fault injection and its log.
type rig struct {
	h      Harness
	bot    botrelay.VendorBot
	faults *faultTransport
	log    *syncBuffer
	codes  []string
}

func newRig(t *testing.T, h Harness) *rig {
	t.Helper()
	settings, client := h.Bot(t)
	if client == nil {
		client = &http.Client{}
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	ft := &faultTransport{base: base}
	fc := *client
	fc.Transport = ft
	log := &syncBuffer{}
	env := botrelay.BotEnv{BotID: "conformance", AccountID: "1000", HTTPClient: &fc,
		Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})), EscalationSkill: "human"}
	if h.Env != nil {
		h.Env(&env)
	}
	vb, err := h.Connector.NewBot(settings, env)
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	if c, ok := vb.(io.Closer); ok {
		t.Cleanup(func() { c.Close() })
	}
	if h.Tune != nil {
		h.Tune(vb)
	}
	return &rig{h: h, bot: vb, faults: ft, log: log, codes: h.Connector.Info().Errors.Codes}
}

func (r *rig) turn() *botrelay.Turn {
	if r.h.Turn != nil {
		return r.h.Turn()
	}
	return &botrelay.Turn{Kind: botrelay.TurnText, Text: "hello",
		Conversation: botrelay.ConversationRef{ID: "conformance-conv", DialogID: "conformance-conv", Type: botrelay.Messaging,
			ConsumerID: "consumer-1", SkillID: 7, SkillName: "bot"},
		LPEvent: json.RawMessage(`{"type":"ContentEvent","message":"hello"}`), SDEs: json.RawMessage(`{}`)}
}

// converse makes one call within d.
func (r *rig) converse(t *testing.T, d time.Duration) (*botrelay.Reply, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	reply, err := r.bot.Converse(ctx, r.turn())
	return reply, time.Since(start), err
}

// checkErr asserts err is a classified *botrelay.VendorError of one of
// classes with a declared code and no secret.
func (r *rig) checkErr(t *testing.T, err error, classes ...error) *botrelay.VendorError {
	t.Helper()
	if err == nil {
		t.Fatal("Converse succeeded; want an error")
	}
	var ve *botrelay.VendorError
	if !errors.As(err, &ve) {
		t.Fatalf("error %q (%T) is no *botrelay.VendorError", err, err)
	}
	if !slices.Contains(r.codes, ve.Code) {
		t.Errorf("error code %q is not among the connector's declared codes %v (error: %v)", ve.Code, r.codes, err)
	}
	ok := false
	for _, c := range classes {
		ok = ok || errors.Is(err, c)
	}
	if !ok {
		t.Errorf("error %q has class %v; want one of %v", err, ve.Class, classes)
	}
	r.noSecrets(t, "the error", err.Error())
	return ve
}

// noSecrets asserts none of the secrets (nor their base64 forms) is in s.
func (r *rig) noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range r.h.Secrets {
		if len(sec) < 4 {
			continue
		}
		for _, form := range []string{sec, base64.StdEncoding.EncodeToString([]byte(sec))} {
			if strings.Contains(s, form) {
				t.Errorf("%s shows a secret: %s", what, s)
			}
		}
	}
}

func (r *rig) logClean(t *testing.T) {
	t.Helper()
	r.noSecrets(t, "the log", r.log.String())
}

// replyAndHooks: the fake answers; the hook steps in a row give the same
// reply as Converse (F36).
func replyAndHooks(t *testing.T, h Harness) {
	r := newRig(t, h)
	reply, _, err := r.converse(t, 10*time.Second)
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if reply == nil || (len(reply.Items) == 0 && reply.Action == nil) {
		t.Fatalf("Converse answered %+v; want messages or an action", reply)
	}
	hb, ok := r.bot.(botrelay.HookableBot)
	if !ok {
		t.Fatalf("%T is no botrelay.HookableBot: its bots could not take pre-, post- and error-hooks (F36)", r.bot)
	}
	hi := hb.HookInfo()
	if hi.Vendor == "" || hi.RequestKey == "" || hi.ResponseKey == "" || hi.RequestKey == hi.ResponseKey {
		t.Errorf("HookInfo %+v: the vendor name and two distinct keys are required", hi)
	}
	r2 := newRig(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tn := r2.turn()
	req, err := hb.BuildRequest(ctx, tn)
	if err != nil {
		t.Fatalf("BuildRequest: %v", err)
	}
	if !json.Valid(req) {
		t.Fatalf("BuildRequest made no JSON: %s", req)
	}
	hb2 := r2.bot.(botrelay.HookableBot)
	resp, state, err := hb2.Exchange(ctx, tn, req)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if !json.Valid(resp) {
		t.Fatalf("Exchange returned no JSON for the post-hook: %s", resp)
	}
	stepped, err := hb2.ParseResponse(ctx, tn, resp)
	if err != nil {
		t.Fatalf("ParseResponse: %v", err)
	}
	if stepped.VendorState == nil {
		stepped.VendorState = state
	}
	a, b := *reply, *stepped
	a.VendorState, b.VendorState = nil, nil
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("BuildRequest, Exchange and ParseResponse in a row give\n%s\nConverse gives\n%s", jb, ja)
	}
	r.logClean(t)
}

// cancelled: a call whose context is already cancelled ends at once with a
// classified error.
func cancelled(t *testing.T, h Harness) {
	r := newRig(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, err := r.bot.Converse(ctx, r.turn())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a cancelled call took %v", d)
	}
	r.checkErr(t, err, botrelay.ErrVendorUnavailable, botrelay.ErrUnsupported, botrelay.ErrVendorBadReply)
	r.logClean(t)
}

type faultCase struct {
	name string
	run  func(t *testing.T, h Harness)
}

var faultCases = []faultCase{
	{"Timeout", func(t *testing.T, h Harness) {
		r := newRig(t, h)
		r.faults.set(fault{hang: true})
		_, took, err := r.converse(t, 500*time.Millisecond)
		if took > 2*time.Second {
			t.Errorf("a hung vendor held the call %v past its 500 ms deadline", took-500*time.Millisecond)
		}
		r.checkErr(t, err, botrelay.ErrVendorUnavailable)
		r.logClean(t)
	}},
	{"ServerError", func(t *testing.T, h Harness) {
		for _, st := range []int{500, 503} {
			r := newRig(t, h)
			r.faults.set(fault{status: st})
			_, took, err := r.converse(t, 5*time.Second)
			r.checkErr(t, err, botrelay.ErrVendorUnavailable)
			if took > 4*time.Second {
				t.Errorf("HTTP %d: the call took %v", st, took)
			}
			r.logClean(t)
		}
	}},
	{"TooManyRequests", func(t *testing.T, h Harness) {
		r := newRig(t, h)
		r.faults.set(fault{status: 429})
		_, took, err := r.converse(t, 5*time.Second)
		r.checkErr(t, err, botrelay.ErrVendorUnavailable)
		if took > 4*time.Second {
			t.Errorf("429 without Retry-After: the call took %v", took)
		}
		r.logClean(t)
	}},
	{"RetryAfterHonoured", func(t *testing.T, h Harness) {
		r := newRig(t, h)
		r.faults.set(fault{status: 429, retryAfter: "1", times: 1})
		reply, _, err := r.converse(t, 10*time.Second)
		if err != nil {
			t.Fatalf("429 with Retry-After: 1 within a 10 s call: %v", err)
		}
		if reply == nil {
			t.Fatal("no reply")
		}
		times := r.faults.times()
		if len(times) < 2 {
			t.Fatalf("%d requests; want the refused one and another", len(times))
		}
		if gap := times[1].Sub(times[0]); gap < 950*time.Millisecond {
			t.Errorf("the request after 429 with Retry-After: 1 came %v later", gap)
		}
		r.logClean(t)
	}},
	{"RetryAfterBeyondDeadline", func(t *testing.T, h Harness) {
		r := newRig(t, h)
		r.faults.set(fault{status: 429, retryAfter: "120"})
		_, took, err := r.converse(t, 3*time.Second)
		ve := r.checkErr(t, err, botrelay.ErrVendorUnavailable)
		if took > 2500*time.Millisecond {
			t.Errorf("a Retry-After beyond the deadline held the call %v", took)
		}
		if ve != nil && ve.RetryAfter != 120*time.Second {
			t.Errorf("VendorError.RetryAfter = %v; want 2m0s, so the relay does not call sooner", ve.RetryAfter)
		}
		r.logClean(t)
	}},
	{"Garbage", func(t *testing.T, h Harness) {
		r := newRig(t, h)
		r.faults.set(fault{status: 200, body: "<html><body>502 Bad Gateway</body></html>"})
		_, _, err := r.converse(t, 5*time.Second)
		r.checkErr(t, err, botrelay.ErrVendorBadReply, botrelay.ErrVendorUnavailable)
		r.logClean(t)
	}},
	{"EmptyBody", func(t *testing.T, h Harness) {
		r := newRig(t, h)
		r.faults.set(fault{status: 200, empty: true})
		reply, _, err := r.converse(t, 5*time.Second)
		if err == nil {
			if reply != nil && len(reply.Items) > 0 {
				t.Fatalf("an empty answer gave messages: %+v", reply)
			}
			return
		}
		r.checkErr(t, err, botrelay.ErrVendorBadReply, botrelay.ErrVendorUnavailable)
		r.logClean(t)
	}},
}

// fault is what the fault transport answers instead of the fake.
type fault struct {
	hang       bool
	status     int
	retryAfter string
	body       string
	empty      bool
	// times limits the fault to the first n requests (0: all).
	times int
}

// faultTransport stands between a bot and its fake.
type faultTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	f    *fault
	n    int
	at   []time.Time
}

func (ft *faultTransport) set(f fault) {
	ft.mu.Lock()
	ft.f, ft.n, ft.at = &f, 0, nil
	ft.mu.Unlock()
}

func (ft *faultTransport) times() []time.Time {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return slices.Clone(ft.at)
}

func (ft *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ft.mu.Lock()
	ft.at = append(ft.at, time.Now())
	ft.n++
	f := ft.f
	if f != nil && f.times > 0 && ft.n > f.times {
		f = nil
	}
	ft.mu.Unlock()
	if f == nil {
		return ft.base.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	if f.hang {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	// A careless vendor echoes what it got, credentials included: the
	// connector must not pass that on.
	body := f.body
	if !f.empty {
		body = fmt.Sprintf("%s request: %s %s auth=%q body=%s", body, req.Method, req.URL.String(), req.Header.Get("Authorization"), reqBody)
	}
	h := http.Header{"Content-Type": {"text/plain"}}
	if f.retryAfter != "" {
		h.Set("Retry-After", f.retryAfter)
	}
	return &http.Response{StatusCode: f.status, Status: fmt.Sprintf("%d %s", f.status, http.StatusText(f.status)),
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req}, nil
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkCodes: the declared codes are sound, and the docs page lists each.
func checkCodes(t *testing.T, h Harness, info botrelay.VendorInfo) {
	e := info.Errors
	if e.Timeout == "" || len(e.Codes) == 0 {
		t.Fatalf("%s declares no error codes (VendorInfo.Errors)", info.ID)
	}
	if !slices.Contains(e.Codes, e.Timeout) {
		t.Errorf("the timeout code %q is not among the codes %v", e.Timeout, e.Codes)
	}
	seen := map[string]bool{}
	for _, c := range e.Codes {
		if seen[c] {
			t.Errorf("code %q is declared twice", c)
		}
		seen[c] = true
		if !codeRE.MatchString(c) || strings.HasPrefix(c, botrelay.ErrorCodePrefix) {
			t.Errorf("code %q is not an aivendor.<vendor>.<operation> code without the prefix", c)
		}
	}
	if h.Doc == "" {
		t.Fatal("Harness.Doc names no docs/vendors page")
	}
	listed, timeoutLine, err := DocCodes(h.Doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range e.Codes {
		if !listed[c] {
			t.Errorf("docs/vendors/%s does not list %s under \"## Error codes\"", h.Doc, c)
		}
	}
	if !strings.Contains(timeoutLine, e.Timeout) {
		t.Errorf("docs/vendors/%s does not say that a call with no answer within the vendor timeout is %s (its line: %q)", h.Doc, e.Timeout, timeoutLine)
	}
}

var codeRE = regexp.MustCompile(`^aivendor\.[a-z0-9-]+(\.[a-z0-9-]+)+$`)

var docCodeRE = regexp.MustCompile("`(?:…|…error\\.|com\\.liveperson\\.bot-connectors-worker\\.error\\.)?(aivendor\\.[a-z0-9.-]*[a-z0-9])`")

// DocCodes reads the "## Error codes" section of docs/vendors/page: the
// codes it lists (in backquotes) and its line about the vendor timeout.
func DocCodes(page string) (codes map[string]bool, timeoutLine string, err error) {
	root, err := repoRoot()
	if err != nil {
		return nil, "", err
	}
	raw, err := os.ReadFile(filepath.Join(root, "docs", "vendors", page))
	if err != nil {
		return nil, "", err
	}
	lines := strings.Split(string(raw), "\n")
	in := false
	codes = map[string]bool{}
	found := false
	for _, l := range lines {
		if strings.HasPrefix(l, "## ") {
			in = strings.TrimSpace(l) == "## Error codes"
			found = found || in
			continue
		}
		if !in {
			continue
		}
		for _, m := range docCodeRE.FindAllStringSubmatch(l, -1) {
			codes[m[1]] = true
		}
		if strings.Contains(l, "vendor timeout") && timeoutLine == "" {
			timeoutLine = l
		}
	}
	if !found {
		return nil, "", fmt.Errorf("docs/vendors/%s has no \"## Error codes\" section", page)
	}
	return codes, timeoutLine, nil
}

// repoRoot is the folder holding go.mod, above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = up
	}
}
