package lex

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/connectortest"
)

func TestConformance(t *testing.T) {
	for _, v := range []struct {
		name string
		conn botrelay.VendorConnector
		cfg  func(string) map[string]any
	}{{"v1", ConnectorV1{}, settingsV1}, {"v2", ConnectorV2{}, settingsV2}} {
		t.Run(v.name, func(t *testing.T) {
			connectortest.Run(t, connectortest.Harness{
				Connector: v.conn,
				Bot: func(t *testing.T) (json.RawMessage, *http.Client) {
					f := newFakeLex(t, creds{accessKey: testAccessKey, secret: testSecret})
					raw, _ := json.Marshal(v.cfg(f.srv.URL))
					return raw, f.srv.Client()
				},
				Turn:    func() *botrelay.Turn { return turn(botrelay.TurnText, "hello") },
				Secrets: []string{testSecret},
				Doc:     "lex.md",
			})
		})
	}
}
