package lex

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test credentials. The secret is what the fake verifies signatures with.
const (
	testRegion    = "eu-west-1"
	testAccessKey = "AKIAIOSFODNN7EXAMPLE"
	testSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYTESTSECRET"
	testToken     = "FwoGZXIvYXdzEJr//////////wEaDTESTSESSIONTOKEN"
	testBotName   = "OrderFlowers"
	testBotAlias  = "prod"
	testBotID     = "ABCDE12345"
	testAliasID   = "TSTALIASID"
	testLocale    = "en_US"
)

// creds are the credentials the fake accepts.
type creds struct {
	accessKey, secret, token string
}

// sigError is a SigV4 verification failure: the AWS error type the fake
// answers with, and its message.
type sigError struct{ typ, msg string }

func (e *sigError) Error() string { return e.typ + ": " + e.msg }

var authPattern = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$`)

// verifySigV4 checks r's Signature Version 4 (header form) the way AWS
// does, written from the published algorithm: it rebuilds the canonical
// request (method, double-encoded path, sorted query, the signed headers,
// the SHA-256 of the body actually received), the string to sign over the
// credential scope date/region/service/aws4_request, derives the signing
// key from the secret, and compares signatures.
func verifySigV4(r *http.Request, body []byte, c creds, region, service string, now time.Time) error {
	m := authPattern.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return &sigError{"MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	scope := strings.Split(m[1], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return &sigError{"IncompleteSignatureException", "Credential must have exactly 5 slash-delimited elements"}
	}
	if scope[0] != c.accessKey {
		return &sigError{"UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	ts, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return &sigError{"IncompleteSignatureException", "X-Amz-Date is missing or malformed"}
	}
	if scope[1] != ts.Format("20060102") || scope[2] != region || scope[3] != service {
		return &sigError{"InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region and service, and to the date of X-Amz-Date; got %s", strings.Join(scope[1:], "/"))}
	}
	if d := now.Sub(ts); d > 5*time.Minute || d < -5*time.Minute {
		return &sigError{"InvalidSignatureException", "Signature expired"}
	}
	signed := strings.Split(m[2], ";")
	if !sort.StringsAreSorted(signed) {
		return &sigError{"InvalidSignatureException", "SignedHeaders must be sorted"}
	}
	has := map[string]bool{}
	for _, h := range signed {
		has[h] = true
	}
	if !has["host"] || !has["x-amz-date"] {
		return &sigError{"InvalidSignatureException", "host and x-amz-date must be signed"}
	}
	if c.token != "" {
		if !has["x-amz-security-token"] || r.Header.Get("X-Amz-Security-Token") != c.token {
			return &sigError{"UnrecognizedClientException", "The security token included in the request is invalid."}
		}
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return &sigError{"InvalidSignatureException", "The provided x-amz-content-sha256 header does not match what was computed."}
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	canon.WriteString(canonicalURI(r.URL.EscapedPath()) + "\n")
	canon.WriteString(canonicalQuery(r) + "\n")
	for _, h := range signed {
		v := r.Host
		if h != "host" {
			vals := r.Header.Values(h)
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		canon.WriteString(h + ":" + v + "\n")
	}
	canon.WriteString("\n" + m[2] + "\n" + payloadHash)
	creqSum := sha256.Sum256([]byte(canon.String()))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(creqSum[:])
	key := []byte("AWS4" + c.secret)
	for _, part := range append(scope[1:4], "aws4_request") {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, sts))
	if !hmac.Equal([]byte(want), []byte(m[3])) {
		return &sigError{"InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// uriEncode is SigV4's UriEncode: everything but unreserved characters as
// %XX (capital hex).
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// canonicalURI encodes each segment of the path as received (already
// encoded once): services other than S3 use double encoding.
func canonicalURI(escaped string) string {
	if escaped == "" {
		return "/"
	}
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(r *http.Request) string {
	q := r.URL.Query()
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// fakeCall is one request the fake accepted.
type fakeCall struct {
	Op      string // PostText, RecognizeText, GetSession, DeleteSession
	Session string // user id / session id
	Body    map[string]any
}

// fakeLex is an Amazon Lex runtime (V1 and V2 routes) on an httptest
// server. Every request must carry a valid SigV4 signature for creds, or
// it answers 403 as AWS does.
type fakeLex struct {
	t     testing.TB
	srv   *httptest.Server
	creds creds

	mu       sync.Mutex
	calls    []fakeCall
	rejected int
	sessions map[string]map[string]string // session id -> attributes
	// reply answers a turn; default: echo the text as PlainText.
	reply func(call fakeCall) (status int, body string)
}

var sessionIDPattern = regexp.MustCompile(`^[0-9a-zA-Z._:-]{2,100}$`)

func newFakeLex(t testing.TB, c creds) *fakeLex {
	f := &fakeLex{t: t, creds: c, sessions: map[string]map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLex) setReply(fn func(fakeCall) (int, string)) {
	f.mu.Lock()
	f.reply = fn
	f.mu.Unlock()
}

func (f *fakeLex) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

func (f *fakeLex) Rejected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}

func awsErr(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", typ+":http://internal.amazon.com/coral/com.amazonaws.deepsense.runtime.service/")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (f *fakeLex) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := verifySigV4(r, body, f.creds, testRegion, "lex", time.Now()); err != nil {
		f.mu.Lock()
		f.rejected++
		f.mu.Unlock()
		var se *sigError
		errors.As(err, &se)
		awsErr(w, http.StatusForbidden, se.typ, se.msg)
		return
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var call fakeCall
	v2 := false
	switch {
	case len(segs) == 7 && segs[0] == "bot" && segs[2] == "alias" && segs[4] == "user" && segs[6] == "text" && r.Method == http.MethodPost:
		call.Op = "PostText"
	case len(segs) == 7 && segs[0] == "bot" && segs[2] == "alias" && segs[4] == "user" && segs[6] == "session" && r.Method == http.MethodGet:
		call.Op = "GetSession"
	case len(segs) == 9 && segs[0] == "bots" && segs[2] == "botAliases" && segs[4] == "botLocales" && segs[6] == "sessions" && segs[8] == "text" && r.Method == http.MethodPost:
		call.Op, v2 = "RecognizeText", true
	case len(segs) == 8 && segs[0] == "bots" && segs[2] == "botAliases" && segs[4] == "botLocales" && segs[6] == "sessions" && (r.Method == http.MethodGet || r.Method == http.MethodDelete):
		call.Op, v2 = "GetSession", true
		if r.Method == http.MethodDelete {
			call.Op = "DeleteSession"
		}
	default:
		awsErr(w, http.StatusNotFound, "UnknownOperationException", "no such operation: "+r.Method+" "+r.URL.Path)
		return
	}
	if v2 {
		if segs[1] != testBotID || segs[3] != testAliasID || segs[5] != testLocale {
			awsErr(w, http.StatusNotFound, "ResourceNotFoundException", "Could not find bot "+segs[1]+" alias "+segs[3]+" locale "+segs[5])
			return
		}
		call.Session = segs[7]
	} else {
		if segs[1] != testBotName || segs[3] != testBotAlias {
			awsErr(w, http.StatusNotFound, "NotFoundException", "Could not find bot "+segs[1]+" alias "+segs[3])
			return
		}
		call.Session = segs[5]
	}
	if !sessionIDPattern.MatchString(call.Session) {
		awsErr(w, http.StatusBadRequest, "ValidationException", "invalid user/session id "+call.Session)
		return
	}
	if len(body) > 0 {
		if r.Header.Get("Content-Type") != "application/json" {
			awsErr(w, http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException", "want application/json")
			return
		}
		if err := json.Unmarshal(body, &call.Body); err != nil {
			awsErr(w, http.StatusBadRequest, "BadRequestException", "body is not JSON")
			return
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	attrs, known := f.sessions[call.Session]
	reply := f.reply
	f.mu.Unlock()

	switch call.Op {
	case "GetSession":
		if !known {
			if v2 {
				awsErr(w, http.StatusNotFound, "ResourceNotFoundException", "Session not found")
			} else {
				awsErr(w, http.StatusNotFound, "NotFoundException", "No session found for user "+call.Session)
			}
			return
		}
		out := map[string]any{"sessionId": call.Session, "sessionAttributes": attrs}
		if v2 {
			out = map[string]any{"sessionId": call.Session, "sessionState": map[string]any{"sessionAttributes": attrs}}
		}
		writeJSON(w, out)
		return
	case "DeleteSession":
		f.mu.Lock()
		delete(f.sessions, call.Session)
		f.mu.Unlock()
		if !known {
			awsErr(w, http.StatusNotFound, "ResourceNotFoundException", "Session not found")
			return
		}
		writeJSON(w, map[string]any{"botId": segs[1], "botAliasId": segs[3], "localeId": segs[5], "sessionId": call.Session})
		return
	}
	textKey := "inputText"
	if v2 {
		textKey = "text"
	}
	text, _ := call.Body[textKey].(string)
	if text == "" || len([]rune(text)) > 1024 {
		awsErr(w, http.StatusBadRequest, "BadRequestException", textKey+" must be 1 to 1024 characters")
		return
	}
	// Lex keeps the attributes the client sent (V1 sessionAttributes, V2
	// sessionState.sessionAttributes).
	sent := map[string]string{}
	rawAttrs, _ := call.Body["sessionAttributes"].(map[string]any)
	if v2 {
		st, _ := call.Body["sessionState"].(map[string]any)
		rawAttrs, _ = st["sessionAttributes"].(map[string]any)
	}
	for k, v := range rawAttrs {
		s, ok := v.(string)
		if !ok {
			awsErr(w, http.StatusBadRequest, "BadRequestException", "session attribute "+k+" is not a string")
			return
		}
		sent[k] = s
	}
	if ra, ok := call.Body["requestAttributes"].(map[string]any); ok {
		for k, v := range ra {
			if _, ok := v.(string); !ok {
				awsErr(w, http.StatusBadRequest, "BadRequestException", "request attribute "+k+" is not a string")
				return
			}
		}
	}
	f.mu.Lock()
	f.sessions[call.Session] = sent
	f.mu.Unlock()
	status, out := 200, ""
	if reply != nil {
		status, out = reply(call)
	} else if v2 {
		b, _ := json.Marshal(map[string]any{"sessionId": call.Session, "messages": []any{map[string]any{"contentType": "PlainText", "content": "echo: " + text}},
			"sessionState": map[string]any{"sessionAttributes": sent, "intent": map[string]any{"name": "Echo", "state": "Fulfilled"}}})
		out = string(b)
	} else {
		b, _ := json.Marshal(map[string]any{"sessionId": call.Session, "intentName": "Echo", "message": "echo: " + text, "messageFormat": "PlainText",
			"dialogState": "Fulfilled", "sessionAttributes": sent})
		out = string(b)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
