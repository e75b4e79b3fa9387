package directline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseActivities: no activity set makes the mapping panic, and what it
// accepts encodes.
func FuzzParseActivities(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.json")
	for _, in := range files {
		if data, err := os.ReadFile(in); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var acts []json.RawMessage
		if json.Unmarshal(data, &acts) != nil {
			return
		}
		r, err := parseActivities(acts, "bot")
		if err != nil {
			return
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("the reply does not encode: %v", err)
		}
	})
}
