package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryKey keeps the README's configuration table true:
// each key must have a row naming its environment variable and default.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	for _, k := range Keys() {
		def := "`" + k.Default + "`"
		if k.Default == "" {
			def = "(empty)"
		}
		row := "| `" + k.Key + "` | `" + k.Env + "` | " + def + " | "
		if !strings.Contains(text, row) {
			t.Errorf("README.md has no row starting %q", row)
		}
	}
}
