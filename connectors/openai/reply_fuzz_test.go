package openai

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/botrelay/botrelay"
)

// FuzzParseResponse: any completion either parses into a Reply with a
// message or an action and a bounded history, or fails with
// ErrVendorBadReply.
func FuzzParseResponse(f *testing.F) {
	for _, glob := range []string{"testdata/replies/*.json", "testdata/invalid/*.json"} {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	raw, _ := json.Marshal(map[string]any{"model": "m", "maxHistoryMessages": 3, "maxHistoryBytes": 100})
	vb, err := Connector{}.NewBot(raw, botrelay.BotEnv{})
	if err != nil {
		f.Fatal(err)
	}
	b := vb.(*Bot)
	f.Fuzz(func(t *testing.T, body []byte) {
		tt := &botrelay.Turn{Kind: botrelay.TurnText, Text: "hi", VendorState: json.RawMessage(priorState)}
		r, err := b.ParseResponse(context.Background(), tt, body)
		if err != nil {
			if !errors.Is(err, botrelay.ErrVendorBadReply) {
				t.Fatalf("error of the wrong class: %v", err)
			}
			return
		}
		if len(r.Items) == 0 && r.Action == nil {
			t.Fatal("a reply without messages and action")
		}
		var st State
		if err := json.Unmarshal(r.VendorState, &st); err != nil {
			t.Fatal(err)
		}
		size := 0
		for _, m := range st.History {
			size += len(m.Content)
		}
		if len(st.History) > 3 || size > 100 || (len(st.History) > 0 && st.History[0].Role != "user") {
			t.Fatalf("history out of bounds: %+v", st.History)
		}
	})
}
