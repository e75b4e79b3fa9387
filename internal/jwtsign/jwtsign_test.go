package jwtsign

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func claimsAt(t time.Time, ttl time.Duration) map[string]any {
	return map[string]any{
		"iss": "Sentinel", "aud": "1000", "sub": "client",
		"iat": t.Unix(), "exp": t.Add(ttl).Unix(),
	}
}

func mustSigner(t *testing.T) *Signer {
	t.Helper()
	s, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	s := mustSigner(t)
	tok, err := s.SignJWT(claimsAt(now, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if want := `{"alg":"RS256","typ":"JWT","kid":"` + s.KeyID() + `"}`; string(hdr) != want {
		t.Errorf("header = %s, want %s", hdr, want)
	}
	got, err := Verify(s.JWKS(), tok, now.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got["iss"] != "Sentinel" || got["aud"] != "1000" || got["exp"] != float64(now.Add(time.Hour).Unix()) {
		t.Errorf("claims = %v", got)
	}
}

func TestVerifyRejects(t *testing.T) {
	s := mustSigner(t)
	other, err := New(mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	good, _ := s.SignJWT(claimsAt(now, time.Hour))
	parts := strings.Split(good, ".")
	tampered, _ := json.Marshal(map[string]any{"iss": "Sentinel", "aud": "9999", "exp": now.Add(time.Hour).Unix()})
	fromOther, _ := other.SignJWT(claimsAt(now, time.Hour))
	// A token from the other key but carrying our kid.
	otherParts := strings.Split(fromOther, ".")
	ourHeader := parts[0]
	forgedKid := ourHeader + "." + otherParts[1] + "." + otherParts[2]
	noneHdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + s.KeyID() + `"}`))
	noExp, _ := s.SignJWT(map[string]any{"iss": "x"})
	notYet, _ := s.SignJWT(map[string]any{"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(10 * time.Minute).Unix()})
	future, _ := s.SignJWT(map[string]any{"exp": now.Add(time.Hour).Unix(), "iat": now.Add(10 * time.Minute).Unix()})
	skewOK, _ := s.SignJWT(map[string]any{"exp": now.Add(-30 * time.Second).Unix(), "iat": now.Add(30 * time.Second).Unix()})

	cases := map[string]struct {
		token string
		at    time.Time
		ok    bool
	}{
		"good":                   {good, now, true},
		"tampered claims":        {parts[0] + "." + base64.RawURLEncoding.EncodeToString(tampered) + "." + parts[2], now, false},
		"tampered sig":           {parts[0] + "." + parts[1] + "." + flip(parts[2]), now, false},
		"wrong key":              {fromOther, now, false},
		"wrong key, our kid":     {forgedKid, now, false},
		"alg none":               {noneHdr + "." + parts[1] + ".", now, false},
		"expired":                {good, now.Add(time.Hour + 61*time.Second), false},
		"expired, within leeway": {good, now.Add(time.Hour + 59*time.Second), true},
		"no exp":                 {noExp, now, false},
		"nbf in future":          {notYet, now, false},
		"iat in future":          {future, now, false},
		"skew within leeway":     {skewOK, now, true},
		"two parts":              {parts[0] + "." + parts[1], now, false},
		"garbage":                {"a.b.c", now, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Verify(s.JWKS(), c.token, c.at)
			if c.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !c.ok {
				if err == nil {
					t.Fatal("Verify accepted the token")
				}
				if !errors.Is(err, ErrInvalidToken) {
					t.Errorf("error %v does not wrap ErrInvalidToken", err)
				}
			}
		})
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return string(b)
}

func mustKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestFileReuseAndMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	b, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyID() != b.KeyID() {
		t.Errorf("second load made a new key: %s != %s", a.KeyID(), b.KeyID())
	}
	tok, _ := a.SignJWT(claimsAt(now, time.Hour))
	if _, err := Verify(b.JWKS(), tok, now); err != nil {
		t.Errorf("token of the first signer fails with the reloaded key: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the key file", len(entries))
	}
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: err = %v, want a refusal", err)
	}
}

func TestConcurrentCreateAgrees(t *testing.T) {
	dir := t.TempDir()
	const n = 4
	kids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := LoadOrCreate(dir)
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = s.KeyID()
		})
	}
	wg.Wait()
	for _, k := range kids[1:] {
		if k != kids[0] {
			t.Fatalf("concurrent creators disagree on the key: %v", kids)
		}
	}
}

func TestLoadPKCS1(t *testing.T) {
	dir := t.TempDir()
	k := mustKey(t)
	data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if err := os.WriteFile(filepath.Join(dir, KeyFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != Thumbprint(&k.PublicKey) {
		t.Error("loaded key is not the one on disk")
	}
}

func TestJWKSShape(t *testing.T) {
	s := mustSigner(t)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("keys = %d, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	for name, want := range map[string]string{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": s.KeyID(), "e": "AQAB"} {
		if k[name] != want {
			t.Errorf("%s = %q, want %q", name, k[name], want)
		}
	}
	if len(k) != 6 {
		t.Errorf("key has members %v, want exactly kty use alg kid n e", k)
	}
	n, err := base64.RawURLEncoding.DecodeString(k["n"])
	if err != nil || new(big.Int).SetBytes(n).BitLen() != 2048 {
		t.Errorf("n is not a 2048-bit base64url integer (err %v)", err)
	}
	// RFC 7638 §3.1 test: recompute the thumbprint from the published members.
	canon := `{"e":"` + k["e"] + `","kty":"RSA","n":"` + k["n"] + `"}`
	sum := sha256.Sum256([]byte(canon))
	if got := base64.RawURLEncoding.EncodeToString(sum[:]); got != s.KeyID() {
		t.Errorf("kid %s is not the RFC 7638 thumbprint %s", s.KeyID(), got)
	}
}

// TestThumbprintRFC7638 checks the example of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	if got, want := Thumbprint(pub), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
}

func TestHandler(t *testing.T) {
	s := mustSigner(t)
	s.SetJWKSURL("https://bots.example.com/.well-known/jwks.json")
	if s.JWKSURL() != "https://bots.example.com/.well-known/jwks.json" {
		t.Errorf("JWKSURL = %q", s.JWKSURL())
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != string(s.JWKS()) {
		t.Errorf("GET = %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=3600" {
		t.Errorf("Cache-Control = %q", cc)
	}
	etag := resp.Header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", resp.StatusCode)
	}
	resp, err = http.Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", resp.StatusCode)
	}
}
