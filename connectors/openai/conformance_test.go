package openai

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/botrelay/botrelay/connectors/connectortest"
)

func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Connector: Connector{},
		Bot: func(t *testing.T) (json.RawMessage, *http.Client) {
			f := newFakeOpenAI(t, testKey)
			raw, _ := json.Marshal(map[string]any{"baseUrl": f.base() + "/", "model": fakeModel, "apiKey": testKey})
			return raw, f.srv.Client()
		},
		Secrets: []string{testKey},
		Doc:     "openai.md",
	})
}
