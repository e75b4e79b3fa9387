package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/botrelay/botrelay/secretbox"
)

func testKey(b byte) []byte {
	return bytes.Repeat([]byte{b}, secretbox.KeySize)
}

func newBox(t *testing.T, key []byte) *secretbox.Box {
	t.Helper()
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return box
}

func TestNewKeyLength(t *testing.T) {
	tests := map[string]struct {
		size    int
		wantErr bool
	}{
		"nil":      {size: 0, wantErr: true},
		"16 bytes": {size: 16, wantErr: true},
		"31 bytes": {size: 31, wantErr: true},
		"32 bytes": {size: 32},
		"33 bytes": {size: 33, wantErr: true},
		"64 bytes": {size: 64, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := secretbox.New(make([]byte, tc.size))
			if (err != nil) != tc.wantErr {
				t.Fatalf("New(%d bytes) error = %v, want error %v", tc.size, err, tc.wantErr)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	box := newBox(t, testKey(7))
	tests := map[string]struct {
		plaintext []byte
		ad        []byte
	}{
		"empty plaintext, no AD": {plaintext: nil, ad: nil},
		"short":                  {plaintext: []byte("hunter2"), ad: []byte("bot/1/password")},
		"binary":                 {plaintext: []byte{0, 1, 2, 0xff, 0}, ad: []byte{0}},
		"large":                  {plaintext: bytes.Repeat([]byte("x"), 1<<16), ad: []byte("bot/2/blob")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sealed, err := box.Seal(tc.plaintext, tc.ad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if got, want := len(sealed), len(tc.plaintext)+secretbox.Overhead; got != want {
				t.Errorf("len(sealed) = %d, want %d", got, want)
			}
			if sealed[0] != secretbox.Version {
				t.Errorf("version byte = %#x, want %#x", sealed[0], secretbox.Version)
			}
			if len(tc.plaintext) >= 4 && bytes.Contains(sealed, tc.plaintext) {
				t.Errorf("sealed value contains the plaintext")
			}
			got, err := box.Open(sealed, tc.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Errorf("Open = %q, want %q", got, tc.plaintext)
			}
		})
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	box := newBox(t, testKey(7))
	a, err := box.Seal([]byte("same"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := box.Seal([]byte("same"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical")
	}
}

func TestOpenFailures(t *testing.T) {
	const secret = "vendor-password-123"
	box := newBox(t, testKey(1))
	ad := []byte("bot/42/vendorPassword")
	sealed, err := box.Seal([]byte(secret), ad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := map[string]struct {
		box    *secretbox.Box
		sealed []byte
		ad     []byte
		want   error
	}{
		"nil input":             {sealed: nil, ad: ad, want: secretbox.ErrTooShort},
		"version only":          {sealed: []byte{secretbox.Version}, ad: ad, want: secretbox.ErrTooShort},
		"one byte short":        {sealed: sealed[:secretbox.Overhead-1], ad: ad, want: secretbox.ErrTooShort},
		"truncated ciphertext":  {sealed: sealed[:len(sealed)-1], ad: ad, want: secretbox.ErrDecrypt},
		"unknown version":       {sealed: append([]byte{0x02}, sealed[1:]...), ad: ad, want: secretbox.ErrUnknownVersion},
		"version zero":          {sealed: append([]byte{0x00}, sealed[1:]...), ad: ad, want: secretbox.ErrUnknownVersion},
		"tampered nonce":        {sealed: flip(1), ad: ad, want: secretbox.ErrDecrypt},
		"tampered ciphertext":   {sealed: flip(1 + 12), ad: ad, want: secretbox.ErrDecrypt},
		"tampered tag":          {sealed: flip(len(sealed) - 1), ad: ad, want: secretbox.ErrDecrypt},
		"wrong AD":              {sealed: sealed, ad: []byte("bot/43/vendorPassword"), want: secretbox.ErrDecrypt},
		"missing AD":            {sealed: sealed, ad: nil, want: secretbox.ErrDecrypt},
		"AD with extra byte":    {sealed: sealed, ad: append(bytes.Clone(ad), 0), want: secretbox.ErrDecrypt},
		"wrong key":             {box: newBox(t, testKey(2)), sealed: sealed, ad: ad, want: secretbox.ErrDecrypt},
		"appended garbage":      {sealed: append(bytes.Clone(sealed), 0), ad: ad, want: secretbox.ErrDecrypt},
		"all zero, right size":  {sealed: append([]byte{secretbox.Version}, make([]byte, secretbox.Overhead)...), ad: ad, want: secretbox.ErrDecrypt},
		"valid input, sanity":   {sealed: sealed, ad: ad, want: nil},
		"other key, other data": {box: newBox(t, testKey(3)), sealed: flip(5), ad: nil, want: secretbox.ErrDecrypt},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := tc.box
			if b == nil {
				b = box
			}
			got, err := b.Open(tc.sealed, tc.ad)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error = %v, want %v", err, tc.want)
			}
			if err != nil {
				if got != nil {
					t.Errorf("Open returned data %q with an error", got)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains the plaintext", err)
				}
			}
		})
	}
}

func TestStringRoundTrip(t *testing.T) {
	box := newBox(t, testKey(9))
	tests := map[string]string{
		"empty":   "",
		"ascii":   "s3cr3t",
		"unicode": "pässwörd ✓",
	}
	for name, plaintext := range tests {
		t.Run(name, func(t *testing.T) {
			enc, err := box.SealString(plaintext, "bot/1/field")
			if err != nil {
				t.Fatalf("SealString: %v", err)
			}
			if _, err := base64.StdEncoding.Strict().DecodeString(enc); err != nil {
				t.Fatalf("SealString output %q is not padded standard base64: %v", enc, err)
			}
			got, err := box.OpenString(enc, "bot/1/field")
			if err != nil {
				t.Fatalf("OpenString: %v", err)
			}
			if got != plaintext {
				t.Errorf("OpenString = %q, want %q", got, plaintext)
			}
			if _, err := box.OpenString(enc, "bot/2/field"); !errors.Is(err, secretbox.ErrDecrypt) {
				t.Errorf("OpenString with other AD error = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestOpenStringMalformed(t *testing.T) {
	box := newBox(t, testKey(9))
	tests := map[string]struct {
		encoded string
		want    error
	}{
		"empty":          {encoded: "", want: secretbox.ErrTooShort},
		"not base64":     {encoded: "!!!not base64!!!", want: secretbox.ErrMalformed},
		"missing pad":    {encoded: "AQ", want: secretbox.ErrMalformed},
		"short but b64":  {encoded: base64.StdEncoding.EncodeToString([]byte{1, 2, 3}), want: secretbox.ErrTooShort},
		"url alphabet":   {encoded: "-_-_", want: secretbox.ErrMalformed},
		"wrong contents": {encoded: base64.StdEncoding.EncodeToString(append([]byte{1}, make([]byte, 40)...)), want: secretbox.ErrDecrypt},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := box.OpenString(tc.encoded, "ad"); !errors.Is(err, tc.want) {
				t.Fatalf("OpenString error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	box := newBox(t, testKey(4))
	done := make(chan error)
	for i := range 8 {
		go func() {
			ad := []byte{byte(i)}
			for range 100 {
				s, err := box.Seal([]byte("x"), ad)
				if err == nil {
					_, err = box.Open(s, ad)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
