package customendpoint

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/connectortest"
)

func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Connector: Connector{},
		Bot: func(t *testing.T) (json.RawMessage, *http.Client) {
			f := newFake(t, signer.JWKS())
			raw, _ := json.Marshal(map[string]any{"baseUrl": f.base + "/", "botId": fakeBot, "clientId": "botrelay-app", "clientSecret": "s3cret-conformance"})
			return raw, f.srv.Client()
		},
		Env: func(env *botrelay.BotEnv) { env.Signer = signer },
		// The retry pauses of F42 (5 s, 10 s) shortened; a Retry-After
		// still sets the pause.
		Tune:    func(vb botrelay.VendorBot) { vb.(*Bot).pauses = testPauses },
		Secrets: []string{"s3cret-conformance"},
		Doc:     "custom-endpoint.md",
	})
}
