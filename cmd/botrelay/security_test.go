package main

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPagesSendSecurityHeaders asks the real server for every page and a
// few other responses: each carries nosniff, no referrer and a
// Content-Security-Policy that forbids framing; the pages allow scripts and
// styles only from the server, and their HTML has no inline script, event
// handler or style that such a policy would block. frame_ancestors opens
// the consumer page, and only it, to the sites it names.
func TestPagesSendSecurityHeaders(t *testing.T) {
	p := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	base := p.waitListening(t)
	pages := []string{"/", "/agent", "/dashboard/"}
	others := []string{"/healthz", "/api/v1/me", "/static/agent.js", "/dashboard/app.js", "/api/openapi.json", "/nowhere"}
	for _, path := range append(pages, others...) {
		res, body := fetchPage(t, base+path)
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: X-Content-Type-Options %q, Referrer-Policy %q", path, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
		if !strings.Contains(csp, "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: CSP %q, X-Frame-Options %q: want framing forbidden", path, csp, h.Get("X-Frame-Options"))
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "*;") {
			t.Errorf("GET %s: CSP %q allows inline code or everything", path, csp)
		}
		if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			continue
		}
		if !slices.Contains(pages, path) {
			t.Errorf("GET %s serves HTML; add it to the pages checked here", path)
		}
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %s", path, csp, want)
			}
		}
		for _, tag := range regexp.MustCompile(`(?is)<script[^>]*>`).FindAllString(body, -1) {
			if !strings.Contains(tag, "src=") {
				t.Errorf("GET %s: inline script %s", path, tag)
			}
		}
		if m := regexp.MustCompile(`(?i)\son[a-z]+\s*=|\sstyle\s*=|javascript:`).FindString(body); m != "" {
			t.Errorf("GET %s: inline handler or style %q in the HTML", path, m)
		}
	}
	p.stop(t)

	// Sites named in frame_ancestors may frame the consumer page; the
	// console and the dashboard stay unframeable.
	p = start(t, []string{"BOTRELAY_FRAME_ANCESTORS=https://shop.example.com https://*.example.org"},
		"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	base = p.waitListening(t)
	res, _ := fetchPage(t, base+"/")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors https://shop.example.com https://*.example.org") ||
		res.Header.Get("X-Frame-Options") != "" {
		t.Errorf("consumer page with frame_ancestors: CSP %q, X-Frame-Options %q", csp, res.Header.Get("X-Frame-Options"))
	}
	for _, path := range []string{"/agent", "/dashboard/"} {
		res, _ := fetchPage(t, base+path)
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s with frame_ancestors set: CSP %q, want frame-ancestors 'none'", path, csp)
		}
	}
	p.stop(t)

	// A bad value stops the server with one line naming the key and flag.
	p = start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--frame-ancestors", "https://a.example; script-src *")
	if code := p.exitCode(t, 10*time.Second); code == 0 || strings.Count(strings.TrimSpace(p.stderr.String()), "\n") != 0 ||
		!strings.Contains(p.stderr.String(), "frame_ancestors") || !strings.Contains(p.stderr.String(), "--frame-ancestors") {
		t.Errorf("bad --frame-ancestors: exit %d, stderr %q", code, p.stderr)
	}
}

func fetchPage(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestDataAtRestIsPrivate: a fresh data folder is 0700 and the database
// (with its -wal and -shm files) and the key files are 0600 from the start;
// a folder loosened later (say by a restore from backup) is tightened on
// the next start, and a database outside the data folder is created 0600.
func TestDataAtRestIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the common default: files 0644 unless botrelay says otherwise
	t.Cleanup(func() { syscall.Umask(old) })
	data := filepath.Join(t.TempDir(), "data")
	p := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	base := p.waitListening(t)
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	checkModes := func(when string, wantFiles ...string) {
		t.Helper()
		seen := map[string]bool{}
		err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s: %s has mode %04o, want %04o", when, path, fi.Mode().Perm(), want)
			}
			seen[filepath.Base(path)] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range wantFiles {
			if !seen[f] {
				t.Errorf("%s: %s is not in the data folder (have %v)", when, f, seen)
			}
		}
	}
	// While running, the WAL files exist.
	checkModes("fresh, running", "botrelay.db", "botrelay.db-wal", "botrelay.db-shm", "master.key")
	p.stop(t)
	checkModes("fresh, stopped", "botrelay.db", "master.key")

	// Loosen everything, as a careless copy would, and add a loose upload.
	if err := os.MkdirAll(filepath.Join(data, "files", "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "files", "c", "x.png"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(path, 0o755)
		}
		return os.Chmod(path, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	p = start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	p.waitListening(t)
	checkModes("after a restart with a loosened folder", "botrelay.db", "master.key", "x.png")
	tightened := false
	for _, rec := range p.logLines(t) {
		if msg, _ := rec["msg"].(string); rec["level"] == "WARN" && strings.Contains(msg, "restricted it to this user") {
			tightened = true
		}
	}
	if !tightened {
		t.Errorf("no warning that the loose data folder was tightened; stderr:\n%s", p.stderr)
	}
	p.stop(t)

	// A SQLite database elsewhere is created private too.
	elsewhere := filepath.Join(t.TempDir(), "other.db")
	p = start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "d2"), "--database", "sqlite:"+elsewhere)
	p.waitListening(t)
	for _, f := range []string{elsewhere, elsewhere + "-wal", elsewhere + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", f, fi.Mode().Perm())
		}
	}
	p.stop(t)
}
