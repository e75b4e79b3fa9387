package dashboard

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestScriptsParse checks that every script the dashboard and the hub's
// pages serve parses (node --check), so that a broken script is a failed
// test and not a blank page. Skipped where node is missing; .ci/run
// installs it.
func TestScriptsParse(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	var files []string
	for _, glob := range []string{"static/*.js", "../../hub/web/static/*.js"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("found only %d scripts: %v", len(files), files)
	}
	for _, f := range files {
		if out, err := exec.Command(node, "--check", f).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse:\n%s", f, out)
		}
	}
}
