package dialogflow_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"cloud.google.com/go/dialogflow/apiv2/dialogflowpb"
	"cloud.google.com/go/dialogflow/cx/apiv3/cxpb"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/connectortest"
	"github.com/botrelay/botrelay/connectors/dialogflow"
)

// TestConformance: Dialogflow is spoken to over gRPC, so the suite's HTTP
// fault cases do not apply; gRPC failures have their own tests.
func TestConformance(t *testing.T) {
	cases := []struct {
		name string
		conn botrelay.VendorConnector
		bot  func(t *testing.T) (json.RawMessage, *http.Client)
	}{
		{"es", dialogflow.ESConnector{}, func(t *testing.T) (json.RawMessage, *http.Client) {
			f := esFake(t)
			f.setES(func(req *dialogflowpb.DetectIntentRequest) *dialogflowpb.DetectIntentResponse {
				return &dialogflowpb.DetectIntentResponse{ResponseId: "r", QueryResult: &dialogflowpb.QueryResult{
					QueryText: req.GetQueryInput().GetText().GetText(), FulfillmentMessages: []*dialogflowpb.Intent_Message{esText("Hello from ES")}}}
			})
			raw, _ := json.Marshal(esSettings(f, goodPEM))
			return raw, nil
		}},
		{"cx", dialogflow.CXConnector{}, func(t *testing.T) (json.RawMessage, *http.Client) {
			f := cxFake(t)
			f.setCX(func(req *cxpb.DetectIntentRequest) *cxpb.DetectIntentResponse {
				return &cxpb.DetectIntentResponse{ResponseId: "r", QueryResult: &cxpb.QueryResult{
					ResponseMessages: []*cxpb.ResponseMessage{cxText("Hello from CX")}}}
			})
			raw, _ := json.Marshal(cxSettings(f, goodPEM))
			return raw, nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			connectortest.Run(t, connectortest.Harness{Connector: c.conn, Bot: c.bot, Secrets: []string{goodPEM}, Doc: "dialogflow.md", NotHTTP: true})
		})
	}
}
