package structure

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// uuidFormat is how a UUID is formatted from 16 random bytes; only the one
// helper, internal/uuid, may do it.
const uuidFormat = `"%x-%x-%x-%x-%x"`

// TestOneUUIDHelper fails on every production file outside internal/uuid
// that formats a UUID itself instead of calling uuid.New.
func TestOneUUIDHelper(t *testing.T) {
	root := moduleRoot(t)
	for _, rel := range productionFiles(t, root) {
		if strings.HasPrefix(rel, "internal/uuid/") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), uuidFormat) {
			t.Errorf("%s formats a UUID itself; call uuid.New from internal/uuid", rel)
		}
	}
}
