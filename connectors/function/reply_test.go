package function

import (
	"github.com/botrelay/botrelay/internal/golden"
	"path/filepath"
	"testing"
)

// TestReplyTranslation runs a function answering each result and compares
// the translated Reply with testdata/reply/<case>.golden.
func TestReplyTranslation(t *testing.T) {
	sc := `{type: "vertical", elements: [{type: "button", title: "Recommend a movie",
		click: {actions: [{type: "publishText", text: "Recommend me a movie, please"}]}}]}`
	qr := `{message: "Do you like Bots?", quickReplies: {type: "quickReplies", itemsPerRow: 8, replies: [
		{type: "button", tooltip: "yes i do", title: "yes", click: {actions: [{type: "publishText", text: "yep"}],
		 metadata: [{type: "ExternalId", id: "Yes-1234"}]}}]}}`
	cases := map[string]string{
		"text":                          `{messages: ["Hello"]}`,
		"several-texts":                 `{messages: ["Message one", "Message two", "Message three"]}`,
		"blank-text-skipped":            `{messages: ["a", "   ", "", "b"]}`,
		"structured-content":            `{messages: ["Hi How are you doing?", {structuredContent: ` + sc + `, metadata: {type: "ExternalId", id: "12345"}}]}`,
		"structured-content-meta-array": `{messages: [{structuredContent: ` + sc + `, metadata: [{type: "ExternalId", id: "1"}, {type: "ExternalId", id: "2"}]}]}`,
		"quick-replies":                 `{messages: [{structuredContent: ` + qr + `, metadata: [{id: "1234", type: "ExternalId"}]}]}`,
		"quick-replies-no-message":      `{messages: [{structuredContent: {quickReplies: {type: "quickReplies", replies: []}}}]}`,
		"delay-typing":                  `{messages: ["Hi I am a message before delay", {delay: 5, typing: true}, {structuredContent: ` + sc + `}]}`,
		"delay-default-typing":          `{messages: [{delay: 2}, "after"]}`,
		"delay-without-typing":          `{messages: [{delay: 3, typing: false}, "after"]}`,
		"delay-only":                    `{messages: [{delay: 1}]}`,
		"delay-negative":                `{messages: [{delay: -1}]}`,
		"private-text":                  `{messages: ["Transferring", {text: "This is a private text", messageAudience: "AGENTS_AND_MANAGERS"}], context: {action: "TRANSFER", actionParameters: {skill: "human_skill"}}}`,
		"private-audience-misspelt":     `{messages: [{text: "secret", messageAudience: "agents_and_managers"}]}`,
		"text-object":                   `{messages: [{text: "plain text object"}]}`,
		"encoded-metadata-all":          `{context: {encodedMetadata: "ewoic29tZUluZm8iOiAiSSB3YXMgZW5jb2RlZCIKfQ=="}, messages: ["I am a text response with encoded metadata", {structuredContent: ` + sc + `}]}`,
		"encoded-metadata-override":     `{messages: ["Hi How are you doing?", {encodedMetadata: "ZGlmZmVyZW50IGVuY29kZWQgbWV0YWRhdGE=", structuredContent: ` + sc + `, metadata: {type: "ExternalId", id: "12345"}}], context: {encodedMetadata: "ewoic29tZUluZm8iOiAiSSB3YXMgZW5jb2RlZCIKfQ=="}}`,
		"encoded-metadata-not-string":   `{messages: ["x"], context: {encodedMetadata: 42}}`,
		"context-metadata-messages":     `{messages: ["public reply", {structuredContent: ` + sc + `, metadata: [{type: "ExternalId", id: "own"}]}], context: {metadata: [{type: "SocialMessagingEventData", channel: "Public", replyToId: "r-1", event: {source: "Facebook", type: "CC"}, conversationState: {currentChannel: "Public", dmChatId: "dm-1"}}]}}`,
		"legacy-structured-content":     `{messages: ["Just some structured Content", {delay: 1}], context: {metadata: [{type: "ExternalId", id: "ABCD1234"}], structuredContent: {type: "vertical", elements: [{type: "text", text: "$155.99", tooltip: "$155.99"}]}, encodedMetadata: "ZW5j"}}`,
		"legacy-only-with-transfer":     `{messages: [], context: {structuredContent: {type: "vertical", elements: [{type: "text", text: "join us", alt: "sm-piggyback"}]}, metadata: [{type: "SocialMessagingEventData", channel: "Public"}], action: "TRANSFER", actionParameters: {skill: "facebook"}}}`,
		"legacy-quick-replies":          `{context: {structuredContent: ` + qr + `}}`,
		"transfer-skill":                `{messages: ["Please wait"], context: {action: "TRANSFER", actionParameters: {skill: "bot-escalation"}}}`,
		"transfer-agent":                `{messages: ["Please wait"], context: {action: "TRANSFER", actionParameters: {skill: "bot-escalation", agentId: 4129463410}}}`,
		"transfer-no-skill":             `{messages: ["x"], context: {action: "TRANSFER"}}`,
		"close":                         `{messages: ["Bye"], context: {action: "CLOSE_CONVERSATION"}}`,
		"close-without-pcs":             `{messages: ["Bye"], context: {action: "CLOSE_CONVERSATION", actionParameters: {withoutPcs: true}}}`,
		"close-with-survey-result":      `{messages: ["Thanks for your feedback"], context: {action: "CLOSE_CONVERSATION", actionParameters: {result: {nps: 9, comment: "quick and kind", answers: [9, "yes"]}}}}`,
		"close-with-null-result":        `{messages: ["Bye"], context: {action: "CLOSE_CONVERSATION", actionParameters: {result: null}}}`,
		"change-ttr":                    `{messages: ["This conversation has been marked urgent"], context: {action: "CHANGE_TTR", actionParameters: {ttrType: "URGENT"}}}`,
		"change-ttr-custom":             `{messages: ["later"], context: {action: "CHANGE_TTR", actionParameters: {ttrType: "CUSTOM", value: "600"}}}`,
		"invocation":                    `{messages: ["Please wait"], context: {action: "INVOCATION", actionParameters: {lambdaUuid: "4ec49ffc-080b-4e59-b302-18d6b826191b", payload: "{ \"some\": \"stuff\"}", failOnError: true}}}`,
		"invocation-object-payload":     `{context: {action: "INVOCATION", actionParameters: {lambdaUuid: "4ec49ffc-080b-4e59-b302-18d6b826191b", payload: {some: "stuff"}}}}`,
		"invocation-no-uuid":            `{context: {action: "INVOCATION", actionParameters: {payload: "x"}}}`,
		"unknown-action":                `{messages: ["still sent"], context: {action: "ESCALATE_NOW"}}`,
		"unknown-action-only":           `{context: {action: "INVOKE_FUNCTION"}}`,
		"two-actions":                   `{messages: ["x"], context: {action: ["TRANSFER", "CLOSE_CONVERSATION"], actionParameters: [{skill: "human"}, {withoutPcs: true}]}}`,
		"unknown-then-known-actions":    `{messages: ["x"], context: {action: ["FOO", "CLOSE_CONVERSATION", "CHANGE_TTR"], actionParameters: [{}, {withoutPcs: "true"}, {ttrType: "URGENT"}]}}`,
		"intent":                        `{messages: ["Hi i am an intent information example"], context: {intentId: "intent-info-example", intentName: "Intent information example.", confidenceScore: 1}}`,
		"empty-result":                  `{}`,
		"empty-messages":                `{messages: [], context: {}}`,
		"messages-not-array":            `{messages: "hello"}`,
		"item-number":                   `{messages: [42]}`,
		"item-ambiguous":                `{messages: [{text: "x", delay: 1}]}`,
		"item-unknown-shape":            `{messages: [{foo: "bar"}]}`,
		"context-not-object":            `{messages: ["x"], context: "TRANSFER"}`,
		"result-null":                   `null`,
		"result-string":                 `"hello"`,
		"result-with-cycle":             `(function () { var o = {messages: ["x"]}; o.self = o; return o; })()`,
	}
	for name, result := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, _ := newBot(t, "function lambda(input, callback) {\n  callback(null, "+result+");\n}\n", "")
			r, err := converse(t, b, textTurn("hi"))
			golden.Check(t, filepath.Join("testdata", "reply/"+name+".golden"), render(r, err))
		})
	}
}
