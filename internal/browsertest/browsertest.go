// Package browsertest starts Debian's Chromium for the browser tests (the
// consumer page and agent console, the dashboard) and says where their
// screenshots go.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumPath finds Debian's Chromium ($BOTRELAY_CHROMIUM, /usr/bin/chromium
// or chromium on the PATH). Without it the test fails under CI (CI set) and
// is skipped elsewhere.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("BOTRELAY_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is missing (install Debian's chromium package); CI requires the browser tests")
	}
	t.Skip("chromium not installed; skipping the browser test (apt-get install -y chromium)")
	return ""
}

// Browser starts a headless Chromium with a window of width×height and
// returns a context for its first tab; each further
// chromedp.NewContext(ctx) opens another tab. The browser stops when the
// test ends.
func Browser(t testing.TB, width, height int) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	// Start the browser now so a broken install fails here, clearly.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// ArtifactsDir is where screenshots go: $BOTRELAY_TEST_ARTIFACTS (.ci/run
// sets it) or a temporary folder.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("BOTRELAY_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// FailOnCSPViolations watches the tab of ctx (opened already) and, when the
// test ends, fails it for every Content-Security-Policy violation the
// browser reported there: a blocked inline script, style or event handler,
// or a resource from a place the policy does not allow.
func FailOnCSPViolations(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	var mu sync.Mutex
	var violations []string
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				violations = append(violations, m.Text)
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range violations {
			t.Errorf("%s: the browser reported a Content-Security-Policy violation: %s", name, v)
		}
	})
}
