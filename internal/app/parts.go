package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/internal/sealed"
	"github.com/botrelay/botrelay/platforms/liveperson"
)

// deriveKey derives a purpose-bound key from the master key, so one secret
// never serves two uses.
func deriveKey(master []byte, purpose string) []byte {
	mac := hmac.New(sha256.New, master)
	mac.Write([]byte("botrelay/" + purpose))
	return mac.Sum(nil)
}

// selfEndpoint is how the connector reaches the embedded hub: the listener's
// own address over loopback, with a client that trusts the server's
// certificate when it serves TLS.
type selfEndpoint struct {
	csdsDomain string // "http://127.0.0.1:port" or "127.0.0.1:port" (HTTPS)
	client     *http.Client
}

func newSelfEndpoint(addr net.Addr, tlsConf *tls.Config) (*selfEndpoint, error) {
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil, err
	}
	host := "127.0.0.1"
	if ip := addrIP(addr); ip != nil && !ip.IsUnspecified() {
		host = ip.String()
	}
	hostport := net.JoinHostPort(host, port)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	e := &selfEndpoint{csdsDomain: "http://" + hostport, client: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
	if tlsConf == nil {
		return e, nil
	}
	// Trust exactly the certificate this server presents, and check it
	// under a name it carries, whatever address it listens on.
	cert := tlsConf.Certificates[0]
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parse the server certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	serverName := host
	if leaf.VerifyHostname(host) != nil && len(leaf.DNSNames) > 0 {
		serverName = leaf.DNSNames[0]
	}
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
	e.csdsDomain = hostport
	return e, nil
}

func addrIP(a net.Addr) net.IP {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP
	}
	return nil
}

// platformFactory makes each bot's platform session: the embedded hub, or a
// LivePerson account when the bot's settings name one.
func (m *Main) platformFactory(self *selfEndpoint) relay.PlatformFactory {
	return func(b *botrelay.Bot, user *botrelay.User, creds sealed.Credentials) (botrelay.PlatformAdapter, error) {
		cfg := liveperson.Config{
			Account: string(m.account), CSDSDomain: self.csdsDomain, Username: creds.Username,
			AppKey: creds.AppKey, Secret: creds.Secret, AccessToken: creds.AccessToken, AccessTokenSecret: creds.AccessTokenSecret,
		}
		client := self.client
		if p := b.Settings.Platform; p.Account != "" {
			cfg.Account, cfg.CSDSDomain, client = p.Account, p.CSDSDomain, &http.Client{Timeout: 30 * time.Second}
		}
		return liveperson.New(cfg, liveperson.Options{HTTPClient: client, Logger: m.log.With("bot_id", string(b.ID)), // the adapter adds platform
			Now: m.Now, SurveyBot: b.Type == botrelay.BotSurvey})
	}
}
