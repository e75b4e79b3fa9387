package rasa

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/botrelay/botrelay/connectors/connectortest"
)

func TestConformance(t *testing.T) {
	const token = "rasa-conformance-token-1"
	for _, mode := range []string{AuthQuery, AuthBearer} {
		t.Run(mode, func(t *testing.T) {
			connectortest.Run(t, connectortest.Harness{
				Connector: Connector{},
				Bot: func(t *testing.T) (json.RawMessage, *http.Client) {
					f := newFakeRasa(t, token, mode)
					raw, _ := json.Marshal(map[string]any{"baseUrl": f.srv.URL, "token": token, "authMode": mode})
					return raw, f.srv.Client()
				},
				Secrets: []string{token},
				Doc:     "rasa.md",
			})
		})
	}
}
