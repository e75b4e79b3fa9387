package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSelfSignedServesTrustedHTTPS(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	cert, err := SelfSigned(dir, []string{"botrelay.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()

	caPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA file holds no certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(srv.URL) // httptest listens on 127.0.0.1
	if err != nil {
		t.Fatalf("HTTPS with the written CA: %v", err)
	}
	resp.Body.Close()

	for name, mode := range map[string]os.FileMode{caKey: 0o600, KeyFile: 0o600} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
}

func TestSelfSignedReusesCA(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if _, err := SelfSigned(dir, nil, now); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, CAFile))
	// A new host forces a new server certificate but keeps the CA.
	c2, err := SelfSigned(dir, []string{"other.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(filepath.Join(dir, CAFile))
	if string(first) != string(second) {
		t.Fatal("CA changed between starts")
	}
	leaf, err := x509.ParseCertificate(c2.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("other.test"); err != nil {
		t.Fatalf("new certificate does not cover the new host: %v", err)
	}
}
