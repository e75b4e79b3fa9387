package directline

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/botrelay/botrelay/connectors/connectortest"
)

func TestConformance(t *testing.T) {
	for _, auth := range []string{"secret", "token"} {
		t.Run(auth, func(t *testing.T) {
			connectortest.Run(t, connectortest.Harness{
				Connector: Connector{},
				Bot: func(t *testing.T) (json.RawMessage, *http.Client) {
					f := newFakeDirectLine(t)
					raw, _ := json.Marshal(map[string]any{"secret": fakeSecret, "endpoint": f.endpoint(), "auth": auth,
						"pollIntervalMs": 50, "replyTimeoutMs": 2000})
					return raw, nil
				},
				Secrets: []string{fakeSecret},
				Doc:     "directline.md",
			})
		})
	}
}
