package rasa

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/botrelay/botrelay"
)

// FuzzParseReply: any webhook answer either parses into a Reply whose items
// each hold exactly one of Message and Delay, or fails with
// ErrVendorBadReply.
func FuzzParseReply(f *testing.F) {
	for _, glob := range []string{"testdata/replies/*.json", "testdata/invalid/*.json"} {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, false)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, chat bool) {
		typ := botrelay.Messaging
		if chat {
			typ = botrelay.Chat
		}
		r, _, err := parseReply(body, typ, "bot")
		if err != nil {
			if !errors.Is(err, botrelay.ErrVendorBadReply) {
				t.Fatalf("error of the wrong class: %v", err)
			}
			return
		}
		for i, it := range r.Items {
			if (it.Message == nil) == (it.Delay == nil) {
				t.Fatalf("item %d holds %+v", i, it)
			}
			if it.Delay != nil && it.Delay.Duration <= 0 {
				t.Fatalf("item %d: delay %v", i, it.Delay.Duration)
			}
		}
	})
}
