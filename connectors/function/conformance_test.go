package function

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/botrelay/botrelay/connectors/connectortest"
)

// TestConformance: a function runs in-process, so the suite's HTTP fault
// cases do not apply (the sandbox has its own time and memory tests).
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Connector: Connector{},
		Bot: func(t *testing.T) (json.RawMessage, *http.Client) {
			return settings(`function lambda(input, cb) { cb(null, {messages: ["you said " + input.payload.message]}); }`, ""), nil
		},
		Doc:     "function.md",
		NotHTTP: true,
	})
}
