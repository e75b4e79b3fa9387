// Package jwtsign holds botrelay's own JWT signing key: the RSA key that signs
// the app JWTs botrelay sends to vendors that verify a bearer token (Custom
// Endpoint), and the JSON Web Key Set that lets those vendors check the
// signature.
//
// The key is an RSA-2048 private key kept in <data dir>/jwt-signing-key.pem.
// LoadOrCreate creates it on first use and reuses it afterwards, so tokens
// stay verifiable across restarts and across the nodes that share a data
// folder. To rotate the key, stop botrelay, delete the file and start again;
// verifiers that cache the key set refetch it when they meet an unknown kid.
//
// Tokens are compact JWS (RFC 7515) with RS256 (RFC 7518 §3.3); the key id is
// the RFC 7638 JWK thumbprint of the public key.
package jwtsign

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/botrelay/botrelay"
)

// KeyFile is the name of the key file inside the directory given to
// LoadOrCreate.
const KeyFile = "jwt-signing-key.pem"

// KeyBits is the size of keys LoadOrCreate generates; it also refuses to
// load a smaller key.
const KeyBits = 2048

// Signer signs JWTs with one RSA key. It is safe for concurrent use.
type Signer struct {
	key  *rsa.PrivateKey
	kid  string
	jwks []byte

	mu      sync.RWMutex
	jwksURL string
}

var _ botrelay.TokenSigner = (*Signer)(nil)

// LoadOrCreate returns a Signer for the key in dir/jwt-signing-key.pem. When
// the file does not exist it generates an RSA-2048 key and writes it there
// with mode 0600; the file appears atomically (written to a temporary file,
// then linked into place without replacing a file another process created
// meanwhile, in which case that file wins). dir is created (0700) if
// missing. A key file readable by group or others is refused: the key may
// have leaked, and botrelay will not sign with it.
func LoadOrCreate(dir string) (*Signer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("jwtsign: create key folder: %w", err)
	}
	path := filepath.Join(dir, KeyFile)
	s, err := load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	key, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, fmt.Errorf("jwtsign: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("jwtsign: encode key: %w", err)
	}
	if err := writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, err
	}
	// Load what is on disk: if another process won the race, its key is the
	// one to use.
	return load(path)
}

// writeNew creates path with data, mode 0600, atomically and without
// replacing an existing file.
func writeNew(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".jwt-signing-key-*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("jwtsign: write key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("jwtsign: write key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("jwtsign: write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("jwtsign: write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("jwtsign: write key: %w", err)
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("jwtsign: write key: %w", err)
	}
	return nil
}

func load(path string) (*Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("jwtsign: %s has mode %v; it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwtsign: read key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("jwtsign: %s holds no PEM block", path)
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwtsign: parse %s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("jwtsign: %s holds a %T, not an RSA key", path, k)
		}
		key = rk
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwtsign: parse %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("jwtsign: %s holds a %q PEM block, not a private key", path, block.Type)
	}
	return New(key)
}

// New returns a Signer for key, which must be an RSA key of at least 2048
// bits. Tests use it to sign without touching the disk.
func New(key *rsa.PrivateKey) (*Signer, error) {
	if key == nil || key.N.BitLen() < KeyBits {
		return nil, fmt.Errorf("jwtsign: the signing key must be RSA with at least %d bits", KeyBits)
	}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("jwtsign: invalid key: %w", err)
	}
	pub := &key.PublicKey
	s := &Signer{key: key, kid: Thumbprint(pub)}
	set := jwkSet{Keys: []jwk{{
		Kty: "RSA", Use: "sig", Alg: "RS256", Kid: s.kid,
		N: b64(pub.N.Bytes()), E: b64(big.NewInt(int64(pub.E)).Bytes()),
	}}}
	s.jwks, _ = json.Marshal(set) // cannot fail: strings only
	return s, nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url without
// padding) of an RSA public key: botrelay's key id.
func Thumbprint(pub *rsa.PublicKey) string {
	// RFC 7638 §3.2: the required members in lexicographic order, no
	// whitespace.
	canon := `{"e":"` + b64(big.NewInt(int64(pub.E)).Bytes()) + `","kty":"RSA","n":"` + b64(pub.N.Bytes()) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return b64(sum[:])
}

// KeyID returns the key id put in every token header.
func (s *Signer) KeyID() string { return s.kid }

// header is the JOSE header; a struct keeps the member order stable.
type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

// SignJWT returns a compact RS256 JWS over claims with the header
// {"alg":"RS256","typ":"JWT","kid":<KeyID>}. It does not add or check any
// claim: the caller sets iss, aud, exp and the rest. Claims are encoded with
// encoding/json (keys sorted).
func (s *Signer) SignJWT(claims map[string]any) (string, error) {
	if claims == nil {
		claims = map[string]any{}
	}
	h, _ := json.Marshal(header{Alg: "RS256", Typ: "JWT", Kid: s.kid})
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwtsign: encode claims: %w", err)
	}
	input := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("jwtsign: sign: %w", err)
	}
	return input + "." + b64(sig), nil
}

// SetJWKSURL records where the key set is published; the server calls it
// once it knows its public base URL (<base>/.well-known/jwks.json).
func (s *Signer) SetJWKSURL(u string) {
	s.mu.Lock()
	s.jwksURL = u
	s.mu.Unlock()
}

// JWKSURL returns the URL set with SetJWKSURL, "" before that.
func (s *Signer) JWKSURL() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.jwksURL
}

// JWKS returns the RFC 7517 JSON Web Key Set holding the public key:
// {"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":…,"n":…,"e":…}]}.
// The caller may not modify the returned slice.
func (s *Signer) JWKS() []byte { return s.jwks }

// JWKSCacheMaxAge is the max-age, in seconds, that Handler advertises.
const JWKSCacheMaxAge = 3600

// Handler serves the key set (GET and HEAD) as application/json with
// Cache-Control max-age=JWKSCacheMaxAge and an ETag derived from the key id,
// answering If-None-Match with 304. Other methods get 405.
func (s *Signer) Handler() http.Handler {
	etag := `"` + s.kid + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", JWKSCacheMaxAge))
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		// ServeContent answers conditional requests and HEAD for us.
		h.Set("Content-Type", "application/json")
		http.ServeContent(w, r, "", noModTime, bytes.NewReader(s.jwks))
	})
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
