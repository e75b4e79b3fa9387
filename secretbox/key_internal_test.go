package secretbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// errNoLinks stands for the error of a file system without hard links.
var errNoLinks = errors.New("operation not supported")

func TestLoadKeyRenameFallback(t *testing.T) {
	theirs := bytes.Repeat([]byte{0x42}, KeySize)
	tests := map[string]struct {
		// raceFile, when set, makes another "process" create master.key
		// between the first look and the publication.
		raceFile bool
	}{
		"no hard links":                {},
		"no hard links, file races us": {raceFile: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			path := filepath.Join(dir, KeyFileName)
			t.Cleanup(func() { linkFile = os.Link })
			linkFile = func(oldname, newname string) error {
				if tc.raceFile {
					data := base64.StdEncoding.EncodeToString(theirs) + "\n"
					if err := os.WriteFile(newname, []byte(data), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: errNoLinks}
			}
			key, source, err := LoadKey("", dir)
			if err != nil {
				t.Fatalf("LoadKey: %v", err)
			}
			if source != path {
				t.Errorf("source = %q, want %q", source, path)
			}
			if tc.raceFile && !bytes.Equal(key, theirs) {
				t.Error("LoadKey replaced or ignored a key file created meanwhile")
			}
			linkFile = os.Link
			again, _, err := LoadKey("", dir)
			if err != nil {
				t.Fatalf("second LoadKey: %v", err)
			}
			if !bytes.Equal(again, key) {
				t.Error("second LoadKey returned a different key")
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("data dir holds %d entries, want 1", len(entries))
			}
		})
	}
}
