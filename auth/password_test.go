package auth_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"golang.org/x/crypto/argon2"
)

// fastParams makes HashPassword cheap for the rest of the test.
func fastParams(t *testing.T) {
	t.Helper()
	old := auth.PasswordParams
	auth.PasswordParams = auth.Params{Memory: 64, Iterations: 1, Threads: 1}
	t.Cleanup(func() { auth.PasswordParams = old })
}

func TestHashPasswordDefaults(t *testing.T) {
	if got, want := auth.PasswordParams, (auth.Params{Memory: 19456, Iterations: 2, Threads: 1}); got != want {
		t.Fatalf("PasswordParams = %+v, want %+v", got, want)
	}
	encoded, err := auth.HashPassword("correct horse")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	prefix := "$argon2id$v=19$m=19456,t=2,p=1$"
	if !strings.HasPrefix(encoded, prefix) {
		t.Fatalf("hash %q does not start with %q", encoded, prefix)
	}
	fields := strings.Split(strings.TrimPrefix(encoded, prefix), "$")
	if len(fields) != 2 {
		t.Fatalf("hash %q: want salt and hash after the parameters", encoded)
	}
	for i, want := range []int{auth.SaltLength, auth.KeyLength} {
		b, err := base64.RawStdEncoding.DecodeString(fields[i])
		if err != nil {
			t.Fatalf("field %q is not unpadded base64: %v", fields[i], err)
		}
		if len(b) != want {
			t.Errorf("field %d decodes to %d bytes, want %d", i, len(b), want)
		}
	}
	ok, err := auth.VerifyPassword("correct horse", encoded)
	if err != nil || !ok {
		t.Fatalf("VerifyPassword(right password) = %v, %v; want true, nil", ok, err)
	}
	if auth.NeedsRehash(encoded) {
		t.Error("NeedsRehash(fresh hash) = true")
	}
}

func TestVerifyPassword(t *testing.T) {
	fastParams(t)
	const password = "s3cret-Pässwörd"
	encoded, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(encoded, password) {
		t.Fatal("hash contains the password")
	}
	tests := map[string]struct {
		password string
		want     bool
	}{
		"right password":         {password: password, want: true},
		"wrong password":         {password: "s3cret-Passwort", want: false},
		"empty":                  {password: "", want: false},
		"prefix":                 {password: password[:len(password)-1], want: false},
		"extra character":        {password: password + "!", want: false},
		"different case":         {password: strings.ToUpper(password), want: false},
		"trailing newline":       {password: password + "\n", want: false},
		"unicode normalised NFD": {password: "s3cret-Pa\u0308sswo\u0308rd", want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, err := auth.VerifyPassword(tc.password, encoded)
			if err != nil {
				t.Fatalf("VerifyPassword: %v", err)
			}
			if ok != tc.want {
				t.Errorf("VerifyPassword = %v, want %v", ok, tc.want)
			}
		})
	}
}

func TestHashPasswordSalted(t *testing.T) {
	fastParams(t)
	a, err := auth.HashPassword("same password")
	if err != nil {
		t.Fatal(err)
	}
	b, err := auth.HashPassword("same password")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two hashes of the same password are equal: %s", a)
	}
	for _, h := range []string{a, b} {
		if ok, err := auth.VerifyPassword("same password", h); !ok || err != nil {
			t.Errorf("VerifyPassword(%s) = %v, %v; want true, nil", h, ok, err)
		}
	}
}

// TestVerifyPasswordReadsParams checks that the cost parameters, salt and
// output length come from the stored string, not from PasswordParams.
func TestVerifyPasswordReadsParams(t *testing.T) {
	fastParams(t)
	salt := []byte("0123456789abcdefghij") // 20 bytes, not SaltLength
	manual := func(p auth.Params, keyLen uint32) string {
		key := argon2.IDKey([]byte("pw-under-test"), salt, p.Iterations, p.Memory, p.Threads, keyLen)
		return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.Memory, p.Iterations, p.Threads,
			base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	}
	auth.PasswordParams = auth.Params{Memory: 128, Iterations: 3, Threads: 2}
	viaHashPassword, err := auth.HashPassword("pw-under-test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(viaHashPassword, "$argon2id$v=19$m=128,t=3,p=2$") {
		t.Fatalf("HashPassword ignored PasswordParams: %s", viaHashPassword)
	}
	auth.PasswordParams = auth.Params{Memory: 64, Iterations: 1, Threads: 1}

	tests := map[string]string{
		"made by HashPassword with other params": viaHashPassword,
		"m=256,t=2,p=4 and 24-byte hash":         manual(auth.Params{Memory: 256, Iterations: 2, Threads: 4}, 24),
		"m=64,t=1,p=1 and 64-byte hash":          manual(auth.Params{Memory: 64, Iterations: 1, Threads: 1}, 64),
		"params in another order":                strings.Replace(manual(auth.Params{Memory: 96, Iterations: 2, Threads: 1}, 32), "m=96,t=2,p=1", "p=1,t=2,m=96", 1),
	}
	for name, encoded := range tests {
		t.Run(name, func(t *testing.T) {
			ok, err := auth.VerifyPassword("pw-under-test", encoded)
			if err != nil || !ok {
				t.Fatalf("VerifyPassword(right password, %s) = %v, %v; want true, nil", encoded, ok, err)
			}
			ok, err = auth.VerifyPassword("pw-under-tesT", encoded)
			if err != nil || ok {
				t.Fatalf("VerifyPassword(wrong password) = %v, %v; want false, nil", ok, err)
			}
			if !auth.NeedsRehash(encoded) {
				t.Error("NeedsRehash = false for a hash with other parameters")
			}
		})
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	fastParams(t)
	const password = "hunter2-secret"
	good, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	// good is "$argon2id$v=19$m=64,t=1,p=1$<salt>$<hash>".
	f := strings.Split(good, "$")
	salt, hash := f[4], f[5]
	with := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + hash }
	b64 := base64.RawStdEncoding.EncodeToString

	tests := map[string]string{
		"empty":                "",
		"plain text":           "password",
		"bcrypt":               "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"sha256 secret hash":   auth.HashSecret("password"),
		"argon2i":              strings.Replace(good, "$argon2id$", "$argon2i$", 1),
		"argon2d":              strings.Replace(good, "$argon2id$", "$argon2d$", 1),
		"version 16":           strings.Replace(good, "$v=19$", "$v=16$", 1),
		"version missing":      "$argon2id$m=64,t=1,p=1$" + salt + "$" + hash,
		"no leading dollar":    strings.TrimPrefix(good, "$"),
		"trailing dollar":      good + "$",
		"hash missing":         "$argon2id$v=19$m=64,t=1,p=1$" + salt,
		"extra field":          good + "$" + hash,
		"only dollars":         "$$$$$",
		"params empty":         with(""),
		"params two":           with("m=64,t=1"),
		"params four":          with("m=64,t=1,p=1,x=1"),
		"param without value":  with("m=,t=1,p=1"),
		"param without equals": with("m64,t=1,p=1"),
		"param not a number":   with("m=abc,t=1,p=1"),
		"param negative":       with("m=-64,t=1,p=1"),
		"param plus sign":      with("m=+64,t=1,p=1"),
		"param leading zero":   with("m=064,t=1,p=1"),
		"param with space":     with("m=64, t=1,p=1"),
		"param hex":            with("m=0x40,t=1,p=1"),
		"param duplicate":      with("m=64,m=64,p=1"),
		"param unknown":        with("m=64,t=1,x=1"),
		"param upper case":     with("M=64,t=1,p=1"),
		"memory overflows":     with("m=4294967296,t=1,p=1"),
		"memory over 1 GiB":    with("m=1048577,t=1,p=1"),
		"memory below 8p":      with("m=15,t=1,p=2"),
		"memory zero":          with("m=0,t=1,p=1"),
		"iterations zero":      with("m=64,t=0,p=1"),
		"iterations over 100":  with("m=64,t=101,p=1"),
		"iterations huge":      with("m=64,t=4294967295,p=1"),
		"threads zero":         with("m=64,t=1,p=0"),
		"threads over 64":      with("m=1024,t=1,p=65"),
		"threads over 255":     with("m=64,t=1,p=256"),
		"salt not base64":      "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + hash,
		"salt padded":          "$argon2id$v=19$m=64,t=1,p=1$" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdefg")) + "$" + hash,
		"salt url alphabet":    "$argon2id$v=19$m=64,t=1,p=1$-_-_-_-_-_-_$" + hash,
		"salt empty":           "$argon2id$v=19$m=64,t=1,p=1$$" + hash,
		"salt too short":       "$argon2id$v=19$m=64,t=1,p=1$" + b64([]byte("1234567")) + "$" + hash,
		"salt too long":        "$argon2id$v=19$m=64,t=1,p=1$" + b64(make([]byte, 65)) + "$" + hash,
		"salt non-canonical":   "$argon2id$v=19$m=64,t=1,p=1$" + b64([]byte("0123456789"))[:13] + "R" + "$" + hash,
		"hash empty":           "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"hash too short":       "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + b64(make([]byte, 15)),
		"hash too long":        "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + b64(make([]byte, 65)),
		"hash not base64":      "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("*", 43),
		"very long":            good + strings.Repeat("A", 1<<20),
		"leading space":        " " + good,
		"invalid utf-8":        "$argon2id$v=19$m=64,t=1,p=1$\xff\xfe$" + hash,
		"null bytes":           "$argon2id\x00$v=19$m=64,t=1,p=1$" + salt + "$" + hash,
	}
	if ok, err := auth.VerifyPassword(password, good); !ok || err != nil {
		t.Fatalf("VerifyPassword(good) = %v, %v; want true, nil", ok, err)
	}
	for name, encoded := range tests {
		t.Run(name, func(t *testing.T) {
			ok, err := auth.VerifyPassword(password, encoded)
			if err == nil {
				t.Fatalf("VerifyPassword(%q) = %v, nil; want an error", encoded, ok)
			}
			if ok {
				t.Error("VerifyPassword returned true with an error")
			}
			if !errors.Is(err, auth.ErrMalformedHash) {
				t.Errorf("error %v does not wrap ErrMalformedHash", err)
			}
			if msg := err.Error(); strings.Contains(msg, password) || strings.Contains(msg, salt) || strings.Contains(msg, hash) {
				t.Errorf("error %q contains the password or the stored hash", msg)
			}
			if !auth.NeedsRehash(encoded) {
				t.Error("NeedsRehash(malformed) = false")
			}
		})
	}
}

func TestHashPasswordRejectsBadParams(t *testing.T) {
	tests := map[string]auth.Params{
		"zero":              {},
		"no iterations":     {Memory: 64, Iterations: 0, Threads: 1},
		"no threads":        {Memory: 64, Iterations: 1, Threads: 0},
		"memory below 8p":   {Memory: 31, Iterations: 1, Threads: 4},
		"memory over limit": {Memory: auth.MaxMemory + 1, Iterations: 1, Threads: 1},
		"iterations over":   {Memory: 64, Iterations: auth.MaxIterations + 1, Threads: 1},
		"threads over":      {Memory: 1024, Iterations: 1, Threads: auth.MaxThreads + 1},
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			old := auth.PasswordParams
			t.Cleanup(func() { auth.PasswordParams = old })
			auth.PasswordParams = p
			if h, err := auth.HashPassword("password"); err == nil {
				t.Fatalf("HashPassword with %+v = %q, want an error", p, h)
			}
		})
	}
}

func TestCheckPasswordPolicy(t *testing.T) {
	tests := map[string]struct {
		pw      string
		wantErr string // substring of the message; "" for no error
	}{
		"empty":                  {pw: "", wantErr: "at least 8 characters"},
		"7 characters":           {pw: "abcdefg", wantErr: "at least 8 characters"},
		"8 characters":           {pw: "abcdefgh"},
		"7 runes in 14 bytes":    {pw: "äöüßéèê", wantErr: "at least 8 characters"},
		"8 runes in 16 bytes":    {pw: "äöüßéèêë"},
		"spaces count":           {pw: "        "},
		"256 bytes":              {pw: strings.Repeat("a", 256)},
		"257 bytes":              {pw: strings.Repeat("a", 257), wantErr: "at most 256 bytes"},
		"128 runes in 256 bytes": {pw: strings.Repeat("é", 128)},
		"129 runes in 258 bytes": {pw: strings.Repeat("é", 129), wantErr: "at most 256 bytes"},
		"generated password":     {pw: auth.GeneratePassword()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := auth.CheckPasswordPolicy(tc.pw)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckPasswordPolicy = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckPasswordPolicy = nil, want an error containing %q", tc.wantErr)
			}
			var e *botrelay.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not a *botrelay.Error", err)
			}
			if e.Code != botrelay.EINVALID {
				t.Errorf("code = %q, want %q", e.Code, botrelay.EINVALID)
			}
			if !strings.Contains(e.Message, tc.wantErr) {
				t.Errorf("message %q does not contain %q", e.Message, tc.wantErr)
			}
			if tc.pw != "" && strings.Contains(e.Message, tc.pw) {
				t.Errorf("message %q contains the password", e.Message)
			}
		})
	}
}

func TestGeneratePassword(t *testing.T) {
	const n = 200
	seen := make(map[string]bool, n)
	counts := make(map[rune]int)
	for range n {
		pw := auth.GeneratePassword()
		if got := utf8.RuneCountInString(pw); got != 20 || len(pw) != 20 {
			t.Fatalf("GeneratePassword() = %q, %d characters; want 20", pw, got)
		}
		for _, r := range pw {
			if !strings.ContainsRune(auth.PasswordAlphabet, r) {
				t.Fatalf("GeneratePassword() = %q contains %q, outside the alphabet", pw, r)
			}
			counts[r]++
		}
		if seen[pw] {
			t.Fatalf("GeneratePassword returned %q twice", pw)
		}
		seen[pw] = true
		if err := auth.CheckPasswordPolicy(pw); err != nil {
			t.Fatalf("generated password fails the policy: %v", err)
		}
	}
	for _, c := range "0O1lIio" {
		if strings.ContainsRune(auth.PasswordAlphabet, c) {
			t.Errorf("alphabet contains ambiguous %q", c)
		}
	}
	// 4000 draws over 55 characters: each appears about 73 times; all of
	// them appearing at least once shows the whole alphabet is used.
	if len(counts) != len(auth.PasswordAlphabet) {
		t.Errorf("%d distinct characters seen in %d passwords, want all %d", len(counts), n, len(auth.PasswordAlphabet))
	}
}
