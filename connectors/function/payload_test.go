package function

import (
	"encoding/json"
	"github.com/botrelay/botrelay/internal/golden"
	"path/filepath"
	"testing"

	"github.com/botrelay/botrelay"
)

// echoInput answers the input it received, as JSON, so the request shape
// can be compared with testdata/request/<case>.golden.
const echoInput = `function lambda(input, callback) {
  callback(null, { messages: [JSON.stringify(input, null, 2)] });
}`

func TestRequestPayload(t *testing.T) {
	chatConv := botrelay.ConversationRef{ID: "chat-1", Type: botrelay.Chat, SkillName: "bot"}
	sdes := json.RawMessage(`{"unauthenticatedSdes":{"customerInfo":{"serverTimeStamp":"1","customerInfo":{"customerId":"42"}}},"authenticatedSdes":{}}`)
	location := json.RawMessage(`{"type":"vertical","elements":[{"type":"map","la":49.82,"lo":2.02,"alt":"49.82, 2.02"}]}`)
	cases := map[string]*botrelay.Turn{
		"text": {
			Kind: botrelay.TurnText, Conversation: messagingConv, Text: "where is my order",
			LPEvent: json.RawMessage(`{"sequence":3,"serverTimestamp":1764072000000,"event":{"type":"ContentEvent","message":"where is my order","contentType":"text/plain"},"conversationId":"c-1","dialogId":"c-1","originatorId":"consumer-1","conversationContext":{"skillId":"7","type":"MESSAGING"}}`),
			SDEs:    sdes,
		},
		"text-quick-reply-metadata": {
			Kind: botrelay.TurnText, Conversation: messagingConv, Text: "yep",
			LPEvent:  json.RawMessage(`{"sequence":4,"event":{"type":"ContentEvent","message":"yep","contentType":"text/plain"}}`),
			Metadata: json.RawMessage(`[{"type":"ExternalId","id":"Yes-1234"}]`),
		},
		"text-without-context": {
			Kind: botrelay.TurnText, Conversation: messagingConv, Text: "hi",
		},
		"welcome-messaging": {
			Kind: botrelay.TurnStart, Conversation: messagingConv, LastConsumerMessage: "where is my order",
			LPEvent: json.RawMessage(`{"conversationId":"c-1","dialogId":"c-1"}`), SDEs: sdes,
		},
		"welcome-chat": {
			Kind: botrelay.TurnStart, Conversation: chatConv,
			LPEvent: json.RawMessage(`{"@id":"1","@type":"line","time":"2026-11-25T12:00:00Z","textType":"plain","text":"","by":"info","source":"system","chatSessionKey":"chat-1","skillName":"bot"}`),
		},
		"rich-content": {
			Kind: botrelay.TurnRichContent, Conversation: messagingConv, Text: botrelay.EventConsumerRichContent,
			RichContent: location, LPEvent: json.RawMessage(`{"sequence":5,"conversationId":"c-1"}`),
		},
		"rich-content-event-from-relay": {
			Kind: botrelay.TurnRichContent, Conversation: messagingConv, RichContent: location,
			LPEvent: json.RawMessage(`{"sequence":5,"event":{"type":"RichContentEvent","content":{"type":"vertical","elements":[]}}}`),
		},
		"file": {
			Kind: botrelay.TurnFile, Conversation: messagingConv, Text: botrelay.EventConsumerFile,
			File:    &botrelay.File{RelativePath: "/v1/AUTH_async-images/1000/abc.jpg", FileType: "JPG", Caption: "my receipt", URL: "https://example.invalid/abc.jpg"},
			LPEvent: json.RawMessage(`{"sequence":6}`),
		},
		"survey": {
			Kind: botrelay.TurnSurvey, Conversation: botrelay.ConversationRef{ID: "c-1", DialogID: "d-survey", Type: botrelay.Messaging},
			LPEvent: json.RawMessage(`{"dialogId":"d-survey"}`),
		},
		"session": {
			Kind: botrelay.TurnText, Conversation: messagingConv, Text: "2",
			VendorState: json.RawMessage(`{"step":"ask-quantity","cart":["apple"]}`),
		},
	}
	for name, turn := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, _ := newBot(t, echoInput, "")
			r, err := converse(t, b, turn)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Items) != 1 || r.Items[0].Message == nil {
				t.Fatalf("reply %+v", r)
			}
			golden.Check(t, filepath.Join("testdata", "request/"+name+".golden"), []byte(r.Items[0].Message.Text+"\n"))
		})
	}
}
