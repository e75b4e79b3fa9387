package dialogflow

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/internal/jsonobj"
)

// DefaultScope is the OAuth scope requested when the scopes setting is empty.
const DefaultScope = "https://www.googleapis.com/auth/cloud-platform"

// Secret settings of both connectors.
var secretKeys = []string{"privateKey", "serviceAccountJson"}

// Credentials are the service-account settings both connectors share.
type Credentials struct {
	// ClientEmail is the service account's client_email ("User email
	// address"). Required unless ServiceAccountJSON is set.
	ClientEmail string `json:"clientEmail,omitempty"`
	// PrivateKey is the service account's private_key, PEM, newlines kept
	// (literal "\n" sequences are accepted too). Secret. Required unless
	// ServiceAccountJSON is set.
	PrivateKey string `json:"privateKey,omitempty"`
	// ServiceAccountJSON is the whole service-account key file, as a JSON
	// object or as a string holding it. Secret. Its project_id is the
	// default projectId.
	ServiceAccountJSON json.RawMessage `json:"serviceAccountJson,omitempty"`
	// Scopes are the OAuth scopes, space- or comma-separated. Default:
	// DefaultScope.
	Scopes string `json:"scopes,omitempty"`
	// ServiceLocation is the API host, optionally with a port, e.g.
	// "europe-west1-dialogflow.googleapis.com". Default: derived from the
	// location. A loopback address selects the test hook (package doc).
	ServiceLocation string `json:"serviceLocation,omitempty"`
}

// serviceAccount is the part of a key file the connector reads.
type serviceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id,omitempty"`
	PrivateKeyID string `json:"private_key_id,omitempty"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri,omitempty"`
}

var (
	languagePattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)
	projectPattern  = regexp.MustCompile(`^[a-z][a-z0-9.:-]{2,99}$`)
	segmentPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)
	hostPattern     = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)
	emailPattern    = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)
)

func invalid(format string, args ...any) error {
	return botrelay.Errorf(botrelay.EINVALID, format, args...)
}

func checkLanguage(v string) error {
	if !languagePattern.MatchString(v) {
		return invalid("languageCode %q must be a language tag such as \"en\" or \"en-US\"", v)
	}
	return nil
}

func checkSegment(name, v string, required bool) error {
	if v == "" {
		if required {
			return invalid("%s is required", name)
		}
		return nil
	}
	if !segmentPattern.MatchString(v) {
		return invalid("%s %q must be a single id of letters, digits, '-', '_' or '.' (the last segment of the resource name)", name, v)
	}
	return nil
}

// account resolves the service account from the settings. It names the
// field at fault and never echoes the key.
func (c *Credentials) account() (serviceAccount, error) {
	var sa serviceAccount
	raw := bytes.TrimSpace(c.ServiceAccountJSON)
	if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return sa, invalid("serviceAccountJson must be a service-account key file (JSON object or string)")
			}
			raw = []byte(s)
		}
		if err := json.Unmarshal(raw, &sa); err != nil {
			return sa, invalid("serviceAccountJson is not a JSON service-account key file")
		}
		if sa.Type != "" && sa.Type != "service_account" {
			return sa, invalid("serviceAccountJson has type %q; a service_account key is required", sa.Type)
		}
		if sa.ClientEmail == "" || sa.PrivateKey == "" {
			return sa, invalid("serviceAccountJson must hold client_email and private_key")
		}
		if c.ClientEmail != "" && c.ClientEmail != sa.ClientEmail {
			return sa, invalid("clientEmail differs from the client_email of serviceAccountJson; set only one of them")
		}
	} else {
		sa = serviceAccount{ClientEmail: strings.TrimSpace(c.ClientEmail), PrivateKey: c.PrivateKey}
		if sa.ClientEmail == "" {
			return sa, invalid("clientEmail is required (or give serviceAccountJson)")
		}
		if sa.PrivateKey == "" {
			return sa, invalid("privateKey is required (or give serviceAccountJson)")
		}
	}
	sa.Type = "service_account"
	field := "privateKey"
	if len(raw) > 0 {
		field = "serviceAccountJson private_key"
	}
	if !emailPattern.MatchString(sa.ClientEmail) {
		return sa, invalid("clientEmail %q is not an e-mail address", sa.ClientEmail)
	}
	sa.PrivateKey = strings.ReplaceAll(strings.TrimSpace(sa.PrivateKey), `\n`, "\n")
	if err := checkKey(sa.PrivateKey); err != nil {
		return sa, invalid("%s %s", field, err.Error())
	}
	return sa, nil
}

// checkKey checks that key is a PEM RSA private key; its error never
// contains the key.
func checkKey(key string) error {
	block, _ := pem.Decode([]byte(key))
	if block == nil {
		return fmt.Errorf("is not a PEM private key (it must start with -----BEGIN PRIVATE KEY-----)")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	return fmt.Errorf("holds no readable RSA private key")
}

func (c *Credentials) scopes() []string {
	out := strings.FieldsFunc(c.Scopes, func(r rune) bool { return r == ' ' || r == ',' || r == '\n' || r == '\t' })
	if len(out) == 0 {
		out = []string{DefaultScope}
	}
	return out
}

// endpoint returns host:port for the service location, or the default
// host. The error names serviceLocation.
func endpoint(serviceLocation, defaultHost string) (string, error) {
	s := strings.TrimSpace(serviceLocation)
	s = strings.TrimPrefix(s, "https://")
	s = strings.TrimRight(s, "/")
	if s == "" {
		return defaultHost + ":443", nil
	}
	host, port := s, "443"
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", invalid("serviceLocation %q must be a host name with an optional port, e.g. us-dialogflow.googleapis.com", serviceLocation)
	}
	if ip := net.ParseIP(host); ip == nil && !hostPattern.MatchString(host) {
		return "", invalid("serviceLocation %q must be a host name with an optional port, e.g. us-dialogflow.googleapis.com", serviceLocation)
	}
	return net.JoinHostPort(host, port), nil
}

// isLoopback reports whether the endpoint (host:port) is on this machine.
func isLoopback(ep string) bool {
	host, _, err := net.SplitHostPort(ep)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clientOptions builds the Google client options: the endpoint and the
// service account's self-signed JWT. For a loopback endpoint (the test hook)
// the connection is plaintext and the same JWT goes as a bearer header.
func clientOptions(ep string, sa serviceAccount, scopes []string) ([]option.ClientOption, error) {
	key, err := json.Marshal(sa)
	if err != nil {
		return nil, invalid("service account: %v", err)
	}
	ts, err := google.JWTAccessTokenSourceWithScope(key, scopes...)
	if err != nil {
		return nil, invalid("the service-account key cannot sign requests (check privateKey / serviceAccountJson)")
	}
	if isLoopback(ep) {
		return []option.ClientOption{
			option.WithEndpoint(ep),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
			option.WithGRPCDialOption(grpc.WithPerRPCCredentials(loopbackBearer{ts})),
		}, nil
	}
	return []option.ClientOption{option.WithEndpoint(ep), option.WithTokenSource(ts)}, nil
}

// loopbackBearer sends the token over a plaintext loopback connection (test
// hook only).
type loopbackBearer struct{ ts oauth2.TokenSource }

func (b loopbackBearer) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	tok, err := b.ts.Token()
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok.AccessToken}, nil
}

func (loopbackBearer) RequireTransportSecurity() bool { return false }

// googleConfig is what ESConfig and CXConfig share for making clients.
type googleConfig interface {
	Validate() (serviceAccount, error)
	defaultHost() string
	credentials() *Credentials
}

func (c *Credentials) credentials() *Credentials { return c }

// prepare decodes cfg strictly into c, validates it and returns the service
// account and the gRPC client options.
func prepare(cfg json.RawMessage, c googleConfig, vendor string) (serviceAccount, []option.ClientOption, error) {
	if err := jsonobj.DecodeStrict(cfg, c, vendor+" settings"); err != nil {
		return serviceAccount{}, nil, err
	}
	sa, err := c.Validate()
	if err != nil {
		return serviceAccount{}, nil, err
	}
	ep, err := endpoint(c.credentials().ServiceLocation, c.defaultHost())
	if err != nil {
		return serviceAccount{}, nil, err
	}
	opts, err := clientOptions(ep, sa, c.credentials().scopes())
	if err != nil {
		return serviceAccount{}, nil, err
	}
	return sa, opts, nil
}

// twoClients makes a Sessions and an Agents client of one API version,
// which connect on first use.
func twoClients[S, A io.Closer](ctx context.Context, opts []option.ClientOption, vendor string,
	newSessions func(context.Context, ...option.ClientOption) (S, error),
	newAgents func(context.Context, ...option.ClientOption) (A, error)) (S, A, error) {
	var none A
	sessions, err := newSessions(ctx, opts...)
	if err != nil {
		return sessions, none, invalid("%s client: %v", vendor, err)
	}
	agents, err := newAgents(ctx, opts...)
	if err != nil {
		_ = sessions.Close()
		return sessions, none, invalid("%s client: %v", vendor, err)
	}
	return sessions, agents, nil
}

// checkAgent normalises and checks what ES and CX settings share: the
// query language, the service account, and the project (the key file's
// project_id by default).
func (c *Credentials) checkAgent(language, project *string) (serviceAccount, error) {
	*language = strings.TrimSpace(*language)
	if *language == "" {
		return serviceAccount{}, invalid("languageCode is required")
	}
	if err := checkLanguage(*language); err != nil {
		return serviceAccount{}, err
	}
	sa, err := c.account()
	if err != nil {
		return sa, err
	}
	*project = strings.TrimSpace(*project)
	if *project == "" {
		*project = sa.ProjectID
	}
	if *project == "" {
		return sa, invalid("projectId is required")
	}
	if !projectPattern.MatchString(*project) {
		return sa, invalid("projectId %q is not a Google Cloud project id", *project)
	}
	return sa, nil
}
