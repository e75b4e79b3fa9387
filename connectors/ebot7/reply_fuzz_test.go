package ebot7

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/botrelay/botrelay"
)

// FuzzParseResponse: any message body either parses into a Reply whose
// texts hold no markup tags and no transfer command, or fails with
// ErrVendorBadReply.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"<p>Hello <b>there</b></p>", "CONVERSATION_TRANSFER human 42", "CONVERSATION_TRANSFER",
		`<img src="https://x/y.png">`, `<video><source src="v.mp4"></video>`, "a<br>b&amp;c", "<scr<script>ipt>x</script>",
	} {
		f.Add(s, `[{"body":"Yes","href":"","isFile":false}]`)
	}
	b := &Bot{}
	f.Fuzz(func(t *testing.T, body, options string) {
		opts := json.RawMessage(options)
		if !json.Valid(opts) {
			opts = nil
		}
		resp, _ := json.Marshal(Collected{Messages: []Message{{Body: body, Source: SourceBot, PromptOptions: opts}}})
		tt := &botrelay.Turn{Kind: botrelay.TurnText, Conversation: botrelay.ConversationRef{Type: botrelay.Messaging}}
		r, err := b.ParseResponse(context.Background(), tt, resp)
		if err != nil {
			if !errors.Is(err, botrelay.ErrVendorBadReply) {
				t.Fatalf("error of the wrong class: %v", err)
			}
			return
		}
		for _, it := range r.Items {
			if it.Message == nil {
				t.Fatalf("item %+v", it)
			}
			if strings.HasPrefix(strings.TrimSpace(it.Message.Text), TransferPrefix) {
				t.Fatalf("a transfer command is sent as text: %q", it.Message.Text)
			}
		}
	})
}
