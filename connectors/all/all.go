// Package all lists every vendor connector built into botrelay, so the
// server and the tests that must cover every vendor use the same list.
package all

import (
	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/customendpoint"
	"github.com/botrelay/botrelay/connectors/dialogflow"
	"github.com/botrelay/botrelay/connectors/directline"
	"github.com/botrelay/botrelay/connectors/ebot7"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/connectors/lex"
	"github.com/botrelay/botrelay/connectors/medallia"
	"github.com/botrelay/botrelay/connectors/openai"
	"github.com/botrelay/botrelay/connectors/rasa"
	"github.com/botrelay/botrelay/connectors/watson"
)

// Connectors returns the built-in vendor connectors.
func Connectors() []botrelay.VendorConnector {
	return []botrelay.VendorConnector{
		function.Connector{},
		customendpoint.Connector{},
		watson.V1{}, watson.V2{},
		lex.ConnectorV1{}, lex.ConnectorV2{},
		dialogflow.ESConnector{}, dialogflow.CXConnector{},
		directline.Connector{},
		ebot7.Connector{},
		rasa.Connector{},
		openai.Connector{},
		medallia.Connector{},
	}
}
