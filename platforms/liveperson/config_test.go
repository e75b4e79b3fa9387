package liveperson

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

func TestNewValidates(t *testing.T) {
	good := Config{Account: "1000", Username: "bot", AppKey: "a", Secret: "s", AccessToken: "t", AccessTokenSecret: "ts"}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"account", func(c *Config) { c.Account = "" }, "account is required"},
		{"account chars", func(c *Config) { c.Account = "10/00" }, "account"},
		{"username", func(c *Config) { c.Username = " " }, "username is required"},
		{"secret", func(c *Config) { c.Secret = "" }, "secret is required"},
		{"accessTokenSecret", func(c *Config) { c.AccessTokenSecret = "" }, "accessTokenSecret is required"},
		{"scheme", func(c *Config) { c.CSDSDomain = "ftp://x" }, "csdsDomain"},
		{"path", func(c *Config) { c.CSDSDomain = "https://x/api" }, "csdsDomain"},
		{"host path", func(c *Config) { c.CSDSDomain = "x/api" }, "csdsDomain"},
	} {
		cfg := good
		tc.mod(&cfg)
		_, err := New(cfg, Options{})
		if botrelay.ErrorCode(err) != botrelay.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want EINVALID naming %q", tc.name, err, tc.want)
		}
	}
	a, err := New(good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.ep != (endpoint{host: DefaultCSDSDomain, secure: true}) || a.opts.RequestTimeout != 10*time.Second ||
		a.opts.RefreshInterval != 10*time.Minute || a.opts.ReconnectMin != time.Second || a.opts.ReconnectMax != 30*time.Second {
		t.Fatalf("defaults: %+v %+v", a.ep, a.opts)
	}
}

func TestParseDomain(t *testing.T) {
	for in, want := range map[string]endpoint{
		"":                        {DefaultCSDSDomain, true},
		"api.liveperson.net":      {"api.liveperson.net", true},
		"127.0.0.1:8443":          {"127.0.0.1:8443", true},
		"https://127.0.0.1:8443":  {"127.0.0.1:8443", true},
		"https://127.0.0.1:8443/": {"127.0.0.1:8443", true},
		"http://127.0.0.1:8080":   {"127.0.0.1:8080", false},
	} {
		got, err := parseDomain(in)
		if err != nil || got != want {
			t.Errorf("parseDomain(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	ep := endpoint{host: "h:1", secure: false}
	if u := ep.wsURL("m:2", "/ws_api/x", "v=2.1"); u != "ws://m:2/ws_api/x?v=2.1" {
		t.Errorf("wsURL = %s", u)
	}
	ep.secure = true
	if u := ep.httpURL("m:2", "/api", "v=1.3"); u != "https://m:2/api?v=1.3" {
		t.Errorf("httpURL = %s", u)
	}
}

func TestBackoff(t *testing.T) {
	a, err := New(Config{Account: "1", Username: "u", AppKey: "a", Secret: "s", AccessToken: "t", AccessTokenSecret: "ts"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 20; n++ {
		full := min(time.Second<<min(n, 10), 30*time.Second)
		for i := 0; i < 50; i++ {
			d := a.backoff(n)
			if d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, full/2, full)
			}
		}
	}
}

func TestErrorMessage(t *testing.T) {
	a, _ := New(Config{Account: "1", Username: "u", AppKey: "appkey1", Secret: "verysecret", AccessToken: "t0k3n", AccessTokenSecret: "ts"}, Options{})
	for in, want := range map[string]string{
		`{"error":{"code":"not_found","message":"dialog x not found"}}`: "dialog x not found",
		`{"error":"Authentication failed","internalCode":28}`:           "Authentication failed",
		`{"msg":"bad"}`:                      "bad",
		`"plain"`:                            "plain",
		`oops verysecret`:                    "oops ***",
		`{"message":"key appkey1 rejected"}`: "key *** rejected",
	} {
		if got := a.errorMessage([]byte(in)); got != want {
			t.Errorf("errorMessage(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigHidesSecrets(t *testing.T) {
	c := Config{Account: "1", Username: "u", AppKey: "app", Secret: "topsecret1", AccessToken: "tok", AccessTokenSecret: "topsecret2"}
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), buf.String()} {
		if strings.Contains(s, "topsecret") || !strings.Contains(s, "app") {
			t.Errorf("printed config %q", s)
		}
	}
}
