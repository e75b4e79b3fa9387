// Package cli implements botrelay's management commands (login, logout,
// bots, users, skills, profiles, surveys) as a client of the REST API under
// /api/v1.
//
// Every command writes its result to stdout and, on failure, exactly one
// line to stderr: exit status 1 for failures (the API's error code and
// message when the API refused), 2 for usage errors.
package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultServer is the server used without --server, BOTRELAY_SERVER or a
// saved login.
const DefaultServer = "http://127.0.0.1:8080"

// APIError is an error answer of the API: {"error":{"code","message"}}.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// client talks to one botrelay server.
type client struct {
	server string
	token  string
	csrf   string
	hc     *http.Client
}

// newClient returns a client for server, trusting caFile's CA if set.
func newClient(server, caFile string) (*client, error) {
	server = strings.TrimRight(server, "/")
	if !strings.HasPrefix(server, "http://") && !strings.HasPrefix(server, "https://") {
		return nil, usagef("--server %q must start with http:// or https://", server)
	}
	hc := &http.Client{Timeout: 60 * time.Second}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read --ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s holds no PEM certificate", caFile)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	return &client{server: server, hc: hc}, nil
}

// withJar gives the client a cookie jar (for the login session).
func (c *client) withJar() {
	jar, _ := cookiejar.New(nil) // never fails without options
	c.hc.Jar = jar
}

// do sends a request with body in (marshalled as JSON unless nil) and
// returns the raw response body of a 2xx answer, or an *APIError.
func (c *client) do(method, path string, in any) ([]byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.server+"/api/v1"+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap() // drop the repeated method and URL
		}
		return nil, fmt.Errorf("cannot reach %s: %v", c.server, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s %s: %v", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return b, nil
	}
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
		return nil, &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
	}
	return nil, &APIError{Status: resp.StatusCode, Code: strings.ToLower(strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "_")),
		Message: fmt.Sprintf("%s %s answered %s", method, path, resp.Status)}
}

// getJSON GETs path and decodes the answer into out; it returns the raw body too.
func (c *client) getJSON(path string, out any) ([]byte, error) {
	return c.call("GET", path, nil, out)
}

// call is do plus decoding a JSON answer into out (if out is not nil).
func (c *client) call(method, path string, in, out any) ([]byte, error) {
	b, err := c.do(method, path, in)
	if err != nil {
		return nil, err
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return nil, fmt.Errorf("%s %s: the answer is not the expected JSON: %v", method, path, err)
		}
	}
	return b, nil
}

// savedLogin is what `botrelay login` keeps in the token file.
type savedLogin struct {
	Server  string `json:"server"`
	TokenID string `json:"tokenId"`
	Token   string `json:"token"`
}

// tokenFile is the token file's path: BOTRELAY_TOKEN_FILE, else
// <user config dir>/botrelay/token.
func tokenFile() (string, error) {
	if p := os.Getenv("BOTRELAY_TOKEN_FILE"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no place for the token file (%v); set BOTRELAY_TOKEN_FILE", err)
	}
	return filepath.Join(dir, "botrelay", "token"), nil
}

// readLogin reads the token file; ok is false when there is none.
func readLogin() (s savedLogin, ok bool, err error) {
	path, err := tokenFile()
	if err != nil {
		return s, false, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("read the token file: %v", err)
	}
	if err := json.Unmarshal(b, &s); err != nil || s.Token == "" {
		return s, false, fmt.Errorf("the token file %s is damaged; run 'botrelay login' again", path)
	}
	return s, true, nil
}

// writeLogin writes the token file with mode 0600, replacing it atomically.
func writeLogin(s savedLogin) (string, error) {
	path, err := tokenFile()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create the token file's folder: %v", err)
	}
	b, _ := json.Marshal(s)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".token-*")
	if err != nil {
		return "", fmt.Errorf("write the token file: %v", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write the token file: %v", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write the token file: %v", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write the token file: %v", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("write the token file: %v", err)
	}
	return path, nil
}
