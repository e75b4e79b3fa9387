// Package golden holds what the vendor connectors' tests share: golden
// files under testdata/ (rewritten with `go test -update`) and the code of
// a vendor error.
package golden

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/botrelay/botrelay"
)

// Update is the -update flag of the tests that import this package.
var Update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Check compares got with the golden file at path, or rewrites the file
// with -update.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// VendorCode is err's vendor error code, or "" when err is no
// *botrelay.VendorError.
func VendorCode(err error) string {
	var ve *botrelay.VendorError
	if errors.As(err, &ve) {
		return ve.Code
	}
	return ""
}
