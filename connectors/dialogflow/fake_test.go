package dialogflow_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/dialogflow/apiv2/dialogflowpb"
	"cloud.google.com/go/dialogflow/cx/apiv3/cxpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The fake is Google's side of the wire: the Sessions and Agents services of
// Dialogflow ES (v2) and CX (v3), registered from the client library's own
// server stubs on a loopback gRPC server. Every call must carry a bearer JWT
// signed by the test service account's key (the fake verifies the RS256
// signature, the issuer and the scope); every DetectIntent must name the
// expected session, language and payload.

const (
	testEmail   = "relay@test-project.iam.gserviceaccount.com"
	testProject = "test-project"
)

var (
	keyOnce           sync.Once
	goodKey, badKey   *rsa.PrivateKey
	goodPEM, wrongPEM string
)

func keys(t testing.TB) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if goodKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if badKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		goodPEM, wrongPEM = pemOf(goodKey), pemOf(badKey)
	})
}

func pemOf(k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

type fake struct {
	t    testing.TB
	addr string
	// sessionPrefix is what every session path must start with; the rest
	// must be a session id.
	sessionPrefix string
	agentName     string // CX GetAgent name, or ES GetAgent parent
	language      string

	mu   sync.Mutex
	deny codes.Code // when not OK, every call answers this code
	es   func(*dialogflowpb.DetectIntentRequest) *dialogflowpb.DetectIntentResponse
	cx   func(*cxpb.DetectIntentRequest) *cxpb.DetectIntentResponse
	esQ  []*dialogflowpb.DetectIntentRequest
	cxQ  []*cxpb.DetectIntentRequest
}

func newFake(t testing.TB, sessionPrefix, agentName, language string) *fake {
	t.Helper()
	keys(t)
	f := &fake{t: t, sessionPrefix: sessionPrefix, agentName: agentName, language: language}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	srv := grpc.NewServer(grpc.UnaryInterceptor(f.authenticate))
	dialogflowpb.RegisterSessionsServer(srv, esSessionsServer{fake: f})
	dialogflowpb.RegisterAgentsServer(srv, esAgentsServer{fake: f})
	cxpb.RegisterSessionsServer(srv, cxSessionsServer{fake: f})
	cxpb.RegisterAgentsServer(srv, cxAgentsServer{fake: f})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return f
}

func (f *fake) setDeny(c codes.Code) {
	f.mu.Lock()
	f.deny = c
	f.mu.Unlock()
}

// authenticate checks the bearer JWT of every call.
func (f *fake) authenticate(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	f.mu.Lock()
	deny := f.deny
	f.mu.Unlock()
	if deny != codes.OK {
		return nil, status.Error(deny, "The caller does not have permission")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	auth := md.Get("authorization")
	if len(auth) != 1 || !strings.HasPrefix(auth[0], "Bearer ") {
		return nil, status.Error(codes.Unauthenticated, "Request is missing required authentication credential.")
	}
	if err := verifyJWT(strings.TrimPrefix(auth[0], "Bearer "), &goodKey.PublicKey); err != nil {
		return nil, status.Error(codes.Unauthenticated, "Request had invalid authentication credentials: "+err.Error())
	}
	return h(ctx, req)
}

func verifyJWT(tok string, pub *rsa.PublicKey) error {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return status.Error(codes.Unauthenticated, "not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return status.Error(codes.Unauthenticated, "bad signature")
	}
	var hdr struct{ Alg string }
	var claims struct {
		Iss, Sub, Scope string
		Exp             int64
	}
	for i, v := range []any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return err
		}
	}
	switch {
	case hdr.Alg != "RS256":
		return status.Error(codes.Unauthenticated, "alg "+hdr.Alg)
	case claims.Iss != testEmail || claims.Sub != testEmail:
		return status.Error(codes.Unauthenticated, "issuer "+claims.Iss)
	case !strings.Contains(claims.Scope, "https://www.googleapis.com/auth/cloud-platform"):
		return status.Error(codes.Unauthenticated, "scope "+claims.Scope)
	case claims.Exp < time.Now().Unix():
		return status.Error(codes.Unauthenticated, "expired")
	}
	return nil
}

var sessionIDRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,36}$`)

// checkRequest validates the parts every DetectIntent must carry.
func (f *fake) checkRequest(session, language string, payload interface {
	AsMap() map[string]any
}) error {
	id, ok := strings.CutPrefix(session, f.sessionPrefix)
	if !ok || !sessionIDRe.MatchString(id) {
		f.t.Errorf("session %q, want %s{session id}", session, f.sessionPrefix)
		return status.Errorf(codes.InvalidArgument, "bad session %q", session)
	}
	if language != f.language {
		f.t.Errorf("language code %q, want %q", language, f.language)
		return status.Errorf(codes.InvalidArgument, "bad language %q", language)
	}
	m := payload.AsMap()
	_, ev := m["lpEvent"].(map[string]any)
	_, sd := m["lpSdes"].(map[string]any)
	if !ev || !sd {
		f.t.Errorf("queryParams.payload = %v, want lpEvent and lpSdes objects", m)
		return status.Error(codes.InvalidArgument, "payload without lpEvent/lpSdes")
	}
	return nil
}

type esSessionsServer struct {
	dialogflowpb.UnimplementedSessionsServer
	*fake
}

func (s esSessionsServer) DetectIntent(ctx context.Context, req *dialogflowpb.DetectIntentRequest) (*dialogflowpb.DetectIntentResponse, error) {
	f := s.fake
	lang := req.GetQueryInput().GetText().GetLanguageCode()
	if ev := req.GetQueryInput().GetEvent(); ev != nil {
		lang = ev.GetLanguageCode()
	}
	if err := f.checkRequest(req.GetSession(), lang, req.GetQueryParams().GetPayload()); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.esQ = append(f.esQ, req)
	h := f.es
	f.mu.Unlock()
	if h == nil {
		return nil, status.Error(codes.FailedPrecondition, "the test set no ES reply")
	}
	return h(req), nil
}

type esAgentsServer struct {
	dialogflowpb.UnimplementedAgentsServer
	*fake
}

func (s esAgentsServer) GetAgent(ctx context.Context, req *dialogflowpb.GetAgentRequest) (*dialogflowpb.Agent, error) {
	if req.GetParent() != s.agentName {
		return nil, status.Errorf(codes.NotFound, "agent of %q not found", req.GetParent())
	}
	return &dialogflowpb.Agent{Parent: req.GetParent(), DisplayName: "Test agent", DefaultLanguageCode: "en"}, nil
}

type cxSessionsServer struct {
	cxpb.UnimplementedSessionsServer
	*fake
}

func (s cxSessionsServer) DetectIntent(ctx context.Context, req *cxpb.DetectIntentRequest) (*cxpb.DetectIntentResponse, error) {
	f := s.fake
	if err := f.checkRequest(req.GetSession(), req.GetQueryInput().GetLanguageCode(), req.GetQueryParams().GetPayload()); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.cxQ = append(f.cxQ, req)
	h := f.cx
	f.mu.Unlock()
	if h == nil {
		return nil, status.Error(codes.FailedPrecondition, "the test set no CX reply")
	}
	return h(req), nil
}

type cxAgentsServer struct {
	cxpb.UnimplementedAgentsServer
	*fake
}

func (s cxAgentsServer) GetAgent(ctx context.Context, req *cxpb.GetAgentRequest) (*cxpb.Agent, error) {
	if req.GetName() != s.agentName {
		return nil, status.Errorf(codes.NotFound, "agent %q not found", req.GetName())
	}
	return &cxpb.Agent{Name: req.GetName(), DisplayName: "Test agent", DefaultLanguageCode: "en"}, nil
}

func (f *fake) setES(h func(*dialogflowpb.DetectIntentRequest) *dialogflowpb.DetectIntentResponse) {
	f.mu.Lock()
	f.es = h
	f.mu.Unlock()
}

func (f *fake) setCX(h func(*cxpb.DetectIntentRequest) *cxpb.DetectIntentResponse) {
	f.mu.Lock()
	f.cx = h
	f.mu.Unlock()
}

func (f *fake) lastES() *dialogflowpb.DetectIntentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.esQ) == 0 {
		return nil
	}
	return f.esQ[len(f.esQ)-1]
}

func (f *fake) lastCX() *cxpb.DetectIntentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.cxQ) == 0 {
		return nil
	}
	return f.cxQ[len(f.cxQ)-1]
}

func (f *fake) esRequests() []*dialogflowpb.DetectIntentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*dialogflowpb.DetectIntentRequest(nil), f.esQ...)
}

func (f *fake) cxRequests() []*cxpb.DetectIntentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*cxpb.DetectIntentRequest(nil), f.cxQ...)
}
