package medallia

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
			f := newFake(t)
			raw, _ := json.Marshal(map[string]any{"baseUrl": f.srv.URL + "/", "clientId": testID, "clientSecret": testSecret, "surveyAppId": testApp})
			return raw, f.srv.Client()
		},
		Turn:    func() *botrelay.Turn { return surveyTurn("conformance-conv") },
		Secrets: []string{testSecret},
		Doc:     "medallia.md",
	})
}
