package ebot7

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/connectortest"
)

func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Connector: Connector{},
		Bot: func(t *testing.T) (json.RawMessage, *http.Client) {
			f := newFakeEbot7(t, testKey, testBot)
			raw, _ := json.Marshal(map[string]any{"baseUrl": f.srv.URL + "/v1/", "appKey": testKey, "botId": testBot, "botResponseDelay": testDelay})
			return raw, f.srv.Client()
		},
		Tune:    func(vb botrelay.VendorBot) { vb.(*Bot).poll = 10 * time.Millisecond },
		Secrets: []string{testKey},
		Doc:     "ebot7.md",
	})
}
