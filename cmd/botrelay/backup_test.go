package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// run1 runs `botrelay args...` to its end and returns its exit status,
// standard output and standard error.
func run1(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	p := start(t, env, args...)
	code := p.exitCode(t, 60*time.Second)
	return code, p.stdout.String(), p.stderr.String()
}

// TestBackupRestoreCommands: botrelay backup of a served data folder, then
// botrelay restore into a new one — refused without the master key and
// with another key, done with the right one, refused a second time — and
// serve on the restored folder finds its account (no new admin password).
func TestBackupRestoreCommands(t *testing.T) {
	src := t.TempDir()
	p := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", src)
	p.waitListening(t)
	p.stop(t)
	out := filepath.Join(t.TempDir(), "botrelay.backup")

	code, stdout, stderr := run1(t, nil, "backup", "--data", src, "--out", out)
	if code != 0 {
		t.Fatalf("backup: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	wantOut := regexp.MustCompile(`^backed up sqlite \(schema \d+\) to ` + regexp.QuoteMeta(out) + `: accounts 1, agent_sessions \d+, api_keys 1, .*bot_conversations 0, .*bots 1, .*users 2(, [a-z_]+ \d+)*$`)
	if len(lines) != 2 || !wantOut.MatchString(lines[0]) ||
		!regexp.MustCompile(`^the master key is not in the backup: keep `+regexp.QuoteMeta(filepath.Join(src, "master.key"))+` \(sha256 [0-9a-f]{16}\) safe; restore needs it$`).MatchString(lines[1]) {
		t.Errorf("backup printed:\n%s", stdout)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	fp := regexp.MustCompile(`sha256 ([0-9a-f]{16})`).FindStringSubmatch(lines[1])[1]

	dst := filepath.Join(t.TempDir(), "restored")
	keyFile := filepath.Join(dst, "master.key")
	code, _, stderr = run1(t, nil, "restore", "--in", out, "--data", dst)
	want := "botrelay restore: the backup's vendor credentials are sealed with the master key sha256 " + fp + "…: copy that master.key to " +
		keyFile + " (mode 0600) or set BOTRELAY_MASTER_KEY, then restore again\n"
	if code != 1 || stderr != want {
		t.Errorf("restore without the key: exit %d, %q; want 1, %q", code, stderr, want)
	}
	other := strings.Repeat("ab", 32)
	code, _, stderr = run1(t, []string{"BOTRELAY_MASTER_KEY=" + other}, "restore", "--in", out, "--data", dst)
	if code != 1 || !strings.HasPrefix(stderr, "botrelay restore: the master key of BOTRELAY_MASTER_KEY (sha256 ") ||
		!strings.HasSuffix(stderr, "is not the one the backup was made with (sha256 "+fp+"…): put the backup's master.key at "+keyFile+" or set BOTRELAY_MASTER_KEY to it\n") {
		t.Errorf("restore with another key: exit %d, %q", code, stderr)
	}

	key, err := os.ReadFile(filepath.Join(src, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run1(t, nil, "restore", "--in", out, "--data", dst)
	if code != 0 || !regexp.MustCompile(`^restored `+regexp.QuoteMeta(out)+` into sqlite \(backup of sqlite at schema \d+, made \d{4}-\d\d-\d\dT[0-9:]+Z\): accounts 1, .*users 2(, [a-z_]+ \d+)*\n$`).MatchString(stdout) {
		t.Fatalf("restore: exit %d, %q %q", code, stdout, stderr)
	}
	code, _, stderr = run1(t, nil, "restore", "--in", out, "--data", dst)
	if code != 1 || stderr != "botrelay restore: the target database already holds an account; restore into a new data folder or an empty database\n" {
		t.Errorf("restore twice: exit %d, %q", code, stderr)
	}

	p = start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", dst)
	base := p.waitListening(t)
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("serve on the restored folder: /healthz %d", code)
	}
	p.stop(t)
	if strings.Contains(p.stdout.String(), "password") {
		t.Errorf("serve on the restored folder seeded a new account: %s", p.stdout)
	}
}

// TestBackupRestoreUsage: missing flags and files are one line each with
// what to do.
func TestBackupRestoreUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"backup", "--data", t.TempDir()}, 2, "botrelay backup: --out is required: the file to write the backup to\n"},
		{[]string{"restore", "--data", t.TempDir()}, 2, "botrelay restore: --in is required: the backup file to restore\n"},
		{[]string{"restore", "--in", "x.backup"}, 2, "botrelay restore: say where to restore: --data DIR (a new data folder) or --database URL (an empty database)\n"},
		{[]string{"backup", "--data", "/nonexistent/botrelay", "--out", filepath.Join(t.TempDir(), "b")}, 1,
			"botrelay backup: no SQLite database at /nonexistent/botrelay/botrelay.db: no such file or directory\n"},
		{[]string{"backup", "--database", "mysql://x", "--out", "b"}, 1, ""},
	} {
		code, _, stderr := run1(t, nil, c.args...)
		if code != c.code || (c.want != "" && stderr != c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want %d, %q", c.args, code, stderr, c.code, c.want)
		}
	}
}
