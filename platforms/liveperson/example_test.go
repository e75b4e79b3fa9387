package liveperson_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log"
	"net/http"
	"os"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/platforms/liveperson"
)

// printer is a minimal relay side.
type printer struct{}

func (printer) HandleEvent(_ context.Context, ev *botrelay.PlatformEvent) {
	log.Printf("%s %s %q", ev.Kind, ev.Conversation.ID, ev.Text)
}
func (printer) PlatformState(err error) { log.Printf("platform state: %v", err) }

// A bot user's session with a hub served by `botrelay serve --tls-self-signed`
// on 127.0.0.1:8443: trust the CA the server wrote to its data folder.
func ExampleNew() {
	pem, err := os.ReadFile("botrelay-data/tls-ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	a, err := liveperson.New(liveperson.Config{
		Account:           "1000",
		CSDSDomain:        "127.0.0.1:8443", // host:port means HTTPS; "http://127.0.0.1:8080" for plain HTTP
		Username:          "my-bot",
		AppKey:            os.Getenv("LP_APP_KEY"),
		Secret:            os.Getenv("LP_SECRET"),
		AccessToken:       os.Getenv("LP_ACCESS_TOKEN"),
		AccessTokenSecret: os.Getenv("LP_ACCESS_TOKEN_SECRET"),
	}, liveperson.Options{HTTPClient: client})
	if err != nil {
		log.Fatal(err)
	}
	// Run returns only on bad credentials, a replaced session, or when the
	// context ends.
	if err := a.Run(context.Background(), printer{}); err != nil {
		log.Fatal(err)
	}
}
