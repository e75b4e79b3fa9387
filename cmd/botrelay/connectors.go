package main

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

// newRegistry is the one list of vendor connectors built into botrelay.
func newRegistry() *botrelay.Registry {
	r := botrelay.NewRegistry()
	r.RegisterVendor(
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
	)
	return r
}
