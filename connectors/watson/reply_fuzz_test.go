package watson

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/botrelay/botrelay"
)

// FuzzTranslate: any answer translates into a Reply or an
// ErrVendorBadReply, never a panic.
func FuzzTranslate(f *testing.F) {
	for _, dir := range []string{"testdata/replies", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b, false)
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, chat bool) {
		top, err := decodeAnswer(body)
		if err != nil {
			if !errors.Is(err, botrelay.ErrVendorBadReply) {
				t.Fatalf("decode: %v", err)
			}
			return
		}
		ct := botrelay.Messaging
		if chat {
			ct = botrelay.Chat
		}
		em, _ := stickyMetadata(userDefined(top["context"]), "")
		r, err := translate(parseInput{output: top["output"], actions: top["actions"], intents: top["intents"], encodedMetadata: em, convType: ct, currentSkill: "bot"})
		if err != nil {
			if !errors.Is(err, botrelay.ErrVendorBadReply) {
				t.Fatalf("translate: %v", err)
			}
			return
		}
		for _, it := range r.Items {
			if (it.Message == nil) == (it.Delay == nil) {
				t.Fatalf("item with none or both of message and delay: %+v", it)
			}
			if m := it.Message; m != nil {
				for _, raw := range []json.RawMessage{m.StructuredContent, m.QuickReplies, m.Metadata} {
					if raw != nil && !json.Valid(raw) {
						t.Fatalf("invalid JSON in a message: %s", raw)
					}
				}
			}
		}
	})
}
