package auth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/botrelay/botrelay/auth"
)

var lowerHex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestNewKeySet(t *testing.T) {
	seen := make(map[string]string)
	for i := range 50 {
		ks, err := auth.NewKeySet()
		if err != nil {
			t.Fatalf("NewKeySet: %v", err)
		}
		fields := map[string]string{
			"AppKey":            ks.AppKey,
			"Secret":            ks.Secret,
			"AccessToken":       ks.AccessToken,
			"AccessTokenSecret": ks.AccessTokenSecret,
		}
		for name, v := range fields {
			if !lowerHex32.MatchString(v) {
				t.Fatalf("key set %d: %s = %q, want 32 lowercase hex characters", i, name, v)
			}
			if other, dup := seen[v]; dup {
				t.Fatalf("key set %d: %s repeats the value of %s", i, name, other)
			}
			seen[v] = name
		}
	}
}

func TestHashSecret(t *testing.T) {
	ks, err := auth.NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("abc"))
	if got, want := auth.HashSecret("abc"), "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("HashSecret(abc) = %q, want %q", got, want)
	}
	// Known answer: SHA-256("abc") from FIPS 180-2.
	if got, want := auth.HashSecret("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Fatalf("HashSecret(abc) = %q, want %q", got, want)
	}
	hash := auth.HashSecret(ks.Secret)
	if strings.Contains(hash, ks.Secret) {
		t.Fatal("hash contains the secret")
	}
	if auth.HashSecret(ks.Secret) != hash {
		t.Fatal("HashSecret is not deterministic")
	}

	tests := map[string]struct {
		secret string
		hash   string
		want   bool
	}{
		"right secret":              {secret: ks.Secret, hash: hash, want: true},
		"other secret of the set":   {secret: ks.AccessTokenSecret, hash: hash},
		"one character changed":     {secret: ks.Secret[:31] + flipHex(ks.Secret[31]), hash: hash},
		"upper case secret":         {secret: strings.ToUpper(ks.Secret), hash: hash, want: ks.Secret == strings.ToUpper(ks.Secret)},
		"empty secret":              {secret: "", hash: hash},
		"empty secret, its hash":    {secret: "", hash: auth.HashSecret("")},
		"empty hash":                {secret: ks.Secret, hash: ""},
		"hash without prefix":       {secret: ks.Secret, hash: strings.TrimPrefix(hash, "sha256:")},
		"hash in upper case":        {secret: ks.Secret, hash: "sha256:" + strings.ToUpper(strings.TrimPrefix(hash, "sha256:"))},
		"hash truncated":            {secret: ks.Secret, hash: hash[:len(hash)-1]},
		"secret given as the hash":  {secret: hash, hash: hash},
		"plain secret stored":       {secret: ks.Secret, hash: ks.Secret},
		"password hash format":      {secret: ks.Secret, hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"},
		"secret with trailing nl":   {secret: ks.Secret + "\n", hash: hash},
		"secret with leading space": {secret: " " + ks.Secret, hash: hash},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := auth.VerifySecret(tc.secret, tc.hash); got != tc.want {
				t.Errorf("VerifySecret = %v, want %v", got, tc.want)
			}
		})
	}
}

// flipHex returns a hex digit other than c.
func flipHex(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func TestRandomToken(t *testing.T) {
	tests := map[string]struct {
		nbytes  int
		wantLen int
	}{
		"1 byte":   {nbytes: 1, wantLen: 2},
		"16 bytes": {nbytes: 16, wantLen: 22},
		"32 bytes": {nbytes: 32, wantLen: 43},
		"33 bytes": {nbytes: 33, wantLen: 44},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tok := auth.RandomToken(tc.nbytes)
			if len(tok) != tc.wantLen {
				t.Errorf("len(RandomToken(%d)) = %d, want %d", tc.nbytes, len(tok), tc.wantLen)
			}
			b, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				t.Fatalf("token %q is not unpadded URL-safe base64: %v", tok, err)
			}
			if len(b) != tc.nbytes {
				t.Errorf("token decodes to %d bytes, want %d", len(b), tc.nbytes)
			}
		})
	}
	seen := make(map[string]bool)
	for range 100 {
		tok := auth.RandomToken(32)
		if seen[tok] {
			t.Fatalf("RandomToken returned %q twice", tok)
		}
		seen[tok] = true
	}
}

func TestRandomTokenPanicsOnBadSize(t *testing.T) {
	for name, n := range map[string]int{"zero": 0, "negative": -1} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("RandomToken(%d) did not panic", n)
				}
			}()
			auth.RandomToken(n)
		})
	}
}
