package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/botrelay/botrelay/secretbox"
)

func TestLoadKeyCreatesFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested") // does not exist yet
	key, source, err := secretbox.LoadKey("", dir)
	if err != nil {
		t.Fatalf("LoadKey: %v", err)
	}
	path := filepath.Join(dir, secretbox.KeyFileName)
	if source != path {
		t.Errorf("source = %q, want %q", source, path)
	}
	if len(key) != secretbox.KeySize {
		t.Fatalf("len(key) = %d, want %d", len(key), secretbox.KeySize)
	}
	if bytes.Equal(key, make([]byte, secretbox.KeySize)) {
		t.Fatal("key is all zeros")
	}
	if strings.Contains(source, base64.StdEncoding.EncodeToString(key)) {
		t.Error("source contains the key")
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("key file mode = %04o, want 0600", got)
		}
		if got := di.Mode().Perm(); got&0o077 != 0 {
			t.Errorf("data dir mode = %04o, want 0700 or stricter", got)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(data)), base64.StdEncoding.EncodeToString(key); got != want {
		t.Errorf("file holds %q, want the key in standard base64", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only %s (temporary file left behind?)", len(entries), secretbox.KeyFileName)
	}

	again, source2, err := secretbox.LoadKey("", dir)
	if err != nil {
		t.Fatalf("second LoadKey: %v", err)
	}
	if !bytes.Equal(again, key) {
		t.Error("second LoadKey returned a different key")
	}
	if source2 != path {
		t.Errorf("second source = %q, want %q", source2, path)
	}
	if _, err := secretbox.New(key); err != nil {
		t.Errorf("New(loaded key): %v", err)
	}
}

func TestLoadKeyConcurrentFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			keys[i], _, errs[i] = secretbox.LoadKey("", dir)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadKey %d: %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("LoadKey %d returned a different key than LoadKey 0", i)
		}
	}
	onDisk, _, err := secretbox.LoadKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, keys[0]) {
		t.Fatal("the key on disk differs from the keys returned")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want 1", len(entries))
	}
}

func TestLoadKeyFromEnv(t *testing.T) {
	key := make([]byte, secretbox.KeySize)
	for i := range key {
		key[i] = byte(0xf0 + i) // high bits exercise + / and - _ in base64
	}
	tests := map[string]string{
		"base64 std padded":   base64.StdEncoding.EncodeToString(key),
		"base64 std raw":      base64.RawStdEncoding.EncodeToString(key),
		"base64 url padded":   base64.URLEncoding.EncodeToString(key),
		"base64 url raw":      base64.RawURLEncoding.EncodeToString(key),
		"hex lower":           hex.EncodeToString(key),
		"hex upper":           strings.ToUpper(hex.EncodeToString(key)),
		"surrounding newline": base64.StdEncoding.EncodeToString(key) + "\n",
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			// The data dir must not be touched when the env key is set.
			dir := filepath.Join(t.TempDir(), "unused")
			got, source, err := secretbox.LoadKey(env, dir)
			if err != nil {
				t.Fatalf("LoadKey: %v", err)
			}
			if source != "env" {
				t.Errorf("source = %q, want %q", source, "env")
			}
			if !bytes.Equal(got, key) {
				t.Errorf("key = %x, want %x", got, key)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("LoadKey touched the data dir (stat error %v)", err)
			}
		})
	}
}

func TestLoadKeyBadEnv(t *testing.T) {
	tests := map[string]string{
		"too short base64": base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"too long base64":  base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xab}, 33)),
		"63 hex chars":     strings.Repeat("a", 63),
		"64 non-hex chars": strings.Repeat("zq", 32),
		"passphrase":       "correct horse battery staple!",
		"hex with prefix":  "0x" + strings.Repeat("ab", 32),
		"white space only": "   ",
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			key, source, err := secretbox.LoadKey(env, t.TempDir())
			if err == nil {
				t.Fatalf("LoadKey succeeded with key %x from %s", key, source)
			}
			msg := err.Error()
			if trimmed := strings.TrimSpace(env); trimmed != "" && strings.Contains(msg, trimmed) {
				t.Errorf("error %q echoes the env value", msg)
			}
			for _, want := range []string{"BOTRELAY_MASTER_KEY", "base64", "hex"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
}

func TestLoadKeyBadFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits")
	}
	valid := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, secretbox.KeySize)) + "\n"
	tests := map[string]struct {
		contents string
		mode     os.FileMode
		wantMsg  string
	}{
		"world readable": {contents: valid, mode: 0o644, wantMsg: "chmod 600"},
		"group readable": {contents: valid, mode: 0o640, wantMsg: "chmod 600"},
		"other writable": {contents: valid, mode: 0o602, wantMsg: "chmod 600"},
		"empty":          {contents: "", mode: 0o600, wantMsg: "base64"},
		"short key":      {contents: "AAAA\n", mode: 0o600, wantMsg: "base64"},
		"garbage":        {contents: "not a key at all\n", mode: 0o600, wantMsg: "base64"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, secretbox.KeyFileName)
			if err := os.WriteFile(path, []byte(tc.contents), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // not subject to umask
				t.Fatal(err)
			}
			_, _, err := secretbox.LoadKey("", dir)
			if err == nil {
				t.Fatal("LoadKey succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
			if c := strings.TrimSpace(tc.contents); c != "" && strings.Contains(err.Error(), c) {
				t.Errorf("error %q echoes the file contents", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != tc.contents {
				t.Error("LoadKey changed an existing key file")
			}
		})
	}
}

func TestLoadKeyReadsHexFile(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{0x5a}, secretbox.KeySize)
	path := filepath.Join(dir, secretbox.KeyFileName)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, source, err := secretbox.LoadKey("", dir)
	if err != nil {
		t.Fatalf("LoadKey: %v", err)
	}
	if !bytes.Equal(got, key) || source != path {
		t.Errorf("LoadKey = %x, %q; want %x, %q", got, source, key, path)
	}
}

func TestLoadKeyNoSource(t *testing.T) {
	if _, _, err := secretbox.LoadKey("", ""); err == nil {
		t.Fatal("LoadKey with no env key and no data dir succeeded")
	}
}
