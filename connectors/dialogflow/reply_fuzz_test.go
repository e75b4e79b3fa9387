package dialogflow

import (
	"encoding/json"
	"testing"

	"cloud.google.com/go/dialogflow/apiv2/dialogflowpb"
	"cloud.google.com/go/dialogflow/cx/apiv3/cxpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// FuzzPayload feeds arbitrary custom payloads (and ES action parameters)
// to both parsers: they must not panic, and a parsed reply keeps the
// contract (one action at most, items with exactly one of message and
// delay).
func FuzzPayload(f *testing.F) {
	for _, seed := range []string{
		`{"structuredContent":{"type":"vertical","elements":[]},"metadata":{"type":"ExternalId","id":"x"}}`,
		`{"structuredContent":{"quickReplies":{"type":"quickReplies","replies":[]},"message":"m"}}`,
		`{"delay":3,"typing":false}`,
		`{"delay":"2"}`,
		`{"messageAudience":"AGENTS_AND_MANAGERS","text":"note"}`,
		`{"textResponse":"t","encodedMetadata":"ZQ=="}`,
		`{"action":{"name":"TRANSFER","parameters":{"skill":"human","agentId":"1"}}}`,
		`{"action":{"name":"CHANGE_TTR","parameters":{"ttrType":"CUSTOM","value":"60"}}}`,
		`{"action":{"name":"INVOCATION","parameters":{"lambdaUuid":"u","payload":"{\"a\":1}","failOnError":"true"}}}`,
		`{"action":{"name":"CLOSE_CONVERSATION","parameters":{"withoutPcs":[true]}}}`,
		`{"facebook":{}}`,
	} {
		f.Add(seed, "TRANSFER")
	}
	f.Fuzz(func(t *testing.T, payload, action string) {
		var m map[string]any
		if json.Unmarshal([]byte(payload), &m) != nil {
			return
		}
		s, err := structpb.NewStruct(m)
		if err != nil {
			return
		}
		cxRes := &cxpb.DetectIntentResponse{QueryResult: &cxpb.QueryResult{ResponseMessages: []*cxpb.ResponseMessage{
			{Message: &cxpb.ResponseMessage_Payload{Payload: s}}, {Message: &cxpb.ResponseMessage_Payload{Payload: s}}}}}
		if p, err := parseCX(cxRes, "bot"); err == nil {
			check(t, p)
		}
		esRes := &dialogflowpb.DetectIntentResponse{QueryResult: &dialogflowpb.QueryResult{Action: action, Parameters: s,
			FulfillmentMessages: []*dialogflowpb.Intent_Message{{Message: &dialogflowpb.Intent_Message_Payload{Payload: s}}}}}
		if p, err := parseES(esRes, "bot"); err == nil {
			check(t, p)
		}
	})
}

func check(t *testing.T, p *parser) {
	for i, it := range p.reply.Items {
		if (it.Message == nil) == (it.Delay == nil) {
			t.Fatalf("item %d has %v and %v", i, it.Message, it.Delay)
		}
		if it.Message != nil && it.Message.StructuredContent != nil && !json.Valid(it.Message.StructuredContent) {
			t.Fatalf("item %d: invalid structured content", i)
		}
	}
	if a := p.reply.Action; a != nil && a.Kind == "" {
		t.Fatal("action without kind")
	}
}
