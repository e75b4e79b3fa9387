// Package auth holds the credential primitives of botrelay: argon2id
// password hashes in the PHC string format, the password policy, generated
// passwords, LivePerson-style API key sets with their secret hashes, and
// random tokens. It does no I/O; the store keeps the strings it produces.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/botrelay/botrelay"
	"golang.org/x/crypto/argon2"
)

// Default argon2id parameters: 19 MiB of memory, 2 passes, 1 lane. This is
// the minimum configuration OWASP's Password Storage Cheat Sheet recommends
// for argon2id. One hash takes a few tens of milliseconds of one core (about
// 60 ms on a small 2-core VM), which keeps logins quick and bounds the
// memory a burst of logins can take, while still making offline guessing
// expensive. Raise PasswordParams if the servers allow it: VerifyPassword
// reads the parameters from each stored hash, and NeedsRehash tells when a
// stored hash should be upgraded at the next login.
const (
	DefaultMemory     = 19456 // DefaultMemory is the default m, in KiB.
	DefaultIterations = 2     // DefaultIterations is the default t.
	DefaultThreads    = 1     // DefaultThreads is the default p.
)

// Limits VerifyPassword enforces on the parameters of a stored hash, so a
// corrupt or planted row cannot make one login take gigabytes or minutes.
// HashPassword enforces them on PasswordParams too. The lower bounds are
// argon2's own: t >= 1, p >= 1 and m >= 8*p KiB.
const (
	MaxMemory     = 1 << 20 // MaxMemory is the largest m, in KiB (1 GiB).
	MaxIterations = 100     // MaxIterations is the largest t.
	MaxThreads    = 64      // MaxThreads is the largest p.
)

// Salt and hash sizes. HashPassword makes a SaltLength salt and a KeyLength
// hash; VerifyPassword accepts stored salts of 8 to 64 bytes and hashes of
// 16 to 64 bytes, so other argon2id implementations' strings also verify.
const (
	SaltLength    = 16 // SaltLength is the salt size HashPassword uses, in bytes.
	KeyLength     = 32 // KeyLength is the hash size HashPassword makes, in bytes.
	minSaltLength = 8
	maxSaltLength = 64
	minKeyLength  = 16
	maxKeyLength  = 64
	// maxEncodedLength is far above any valid string and only lets
	// decodeHash reject garbage before splitting it.
	maxEncodedLength = 512
)

// Params are argon2id cost parameters.
type Params struct {
	Memory     uint32 // memory in KiB (argon2's m)
	Iterations uint32 // number of passes over the memory (argon2's t)
	Threads    uint8  // degree of parallelism, or lanes (argon2's p)
}

// PasswordParams are the parameters HashPassword uses for new hashes. They
// start at DefaultMemory, DefaultIterations and DefaultThreads.
//
// Tests, including those of other packages that create users, may lower the
// cost so they run fast under -race, for example in TestMain:
//
//	auth.PasswordParams = auth.Params{Memory: 64, Iterations: 1, Threads: 1}
//
// Set it only before hashing starts: it is read without synchronization.
// Memory must be at least 8 KiB per thread.
var PasswordParams = Params{Memory: DefaultMemory, Iterations: DefaultIterations, Threads: DefaultThreads}

// ErrMalformedHash is wrapped by the errors VerifyPassword returns for a
// stored hash it cannot use: not argon2id in the PHC format, an unknown
// version, or parameters outside the limits. The error text describes the
// problem but never contains the hash or the password.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// HashPassword hashes password with argon2id, PasswordParams, a random
// 16-byte salt and a 32-byte output, and returns it in the PHC string format
//
//	$argon2id$v=19$m=<KiB>,t=<iterations>,p=<threads>$<salt>$<hash>
//
// where salt and hash are unpadded standard base64. It does not apply the
// password policy; call CheckPasswordPolicy for passwords users choose. It
// fails only if PasswordParams are out of range or the random source fails.
func HashPassword(password string) (string, error) {
	p := PasswordParams
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("auth: invalid PasswordParams: %w", err)
	}
	salt := make([]byte, SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: reading random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Threads, KeyLength)
	return encodeHash(p, salt, key), nil
}

// VerifyPassword reports whether password matches encoded, a hash made by
// HashPassword (or any argon2id PHC string within the limits). It takes the
// parameters, salt and hash length from encoded, so hashes made with older
// PasswordParams keep working, and compares in constant time. A wrong
// password gives false and a nil error; a malformed or out-of-range encoded
// string gives false and an error wrapping ErrMalformedHash.
func VerifyPassword(password, encoded string) (bool, error) {
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters or
// sizes than HashPassword now uses, or cannot be parsed. After a successful
// login the caller can then store HashPassword of the password just
// verified, moving users to new parameters as they log in.
func NeedsRehash(encoded string) bool {
	p, salt, key, err := decodeHash(encoded)
	return err != nil || p != PasswordParams || len(salt) != SaltLength || len(key) != KeyLength
}

// Password policy limits. The minimum counts characters (Unicode code
// points); the maximum counts bytes of the UTF-8 encoding and bounds the
// work one hash does.
const (
	MinPasswordLength = 8   // MinPasswordLength is the fewest characters allowed.
	MaxPasswordBytes  = 256 // MaxPasswordBytes is the most bytes allowed.
)

// CheckPasswordPolicy returns nil if pw is acceptable as a user's password:
// at least MinPasswordLength characters and at most MaxPasswordBytes bytes.
// Otherwise it returns a *botrelay.Error with code EINVALID whose message
// states the rule; the message never contains the password.
func CheckPasswordPolicy(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return botrelay.Errorf(botrelay.EINVALID, "password must be at least %d characters long", MinPasswordLength)
	}
	if len(pw) > MaxPasswordBytes {
		return botrelay.Errorf(botrelay.EINVALID, "password must be at most %d bytes long", MaxPasswordBytes)
	}
	return nil
}

// PasswordAlphabet is the alphabet of GeneratePassword: digits and letters
// without those easily confused when read or typed (0 O o, 1 l I i).
const PasswordAlphabet = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"

// GeneratedPasswordLength is the length of the passwords GeneratePassword
// makes. With the 55-character PasswordAlphabet that is about 115 bits of
// entropy.
const GeneratedPasswordLength = 20

// GeneratePassword returns a random password of GeneratedPasswordLength
// characters drawn uniformly from PasswordAlphabet, for example the initial
// admin password printed at first start.
func GeneratePassword() string {
	// Rejection sampling: bytes at or above the largest multiple of the
	// alphabet size are discarded so every character is equally likely.
	const n = len(PasswordAlphabet)
	const limit = 256 - 256%n
	out := make([]byte, 0, GeneratedPasswordLength)
	buf := make([]byte, 2*GeneratedPasswordLength)
	for len(out) < GeneratedPasswordLength {
		readRandom(buf)
		for _, b := range buf {
			if int(b) < limit && len(out) < GeneratedPasswordLength {
				out = append(out, PasswordAlphabet[int(b)%n])
			}
		}
	}
	return string(out)
}

// validate checks p against the limits and argon2's own requirements.
func (p Params) validate() error {
	switch {
	case p.Iterations < 1 || p.Iterations > MaxIterations:
		return fmt.Errorf("iterations (t) must be between 1 and %d, got %d", MaxIterations, p.Iterations)
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("threads (p) must be between 1 and %d, got %d", MaxThreads, p.Threads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > MaxMemory:
		return fmt.Errorf("memory (m) must be between 8 KiB per thread and %d KiB, got %d", MaxMemory, p.Memory)
	}
	return nil
}

// rawStd is the base64 variant of the PHC string format: standard alphabet,
// no padding. Strict decoding rejects non-canonical trailing bits.
var rawStd = base64.RawStdEncoding.Strict()

// encodeHash formats an argon2id PHC string.
func encodeHash(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Threads,
		rawStd.EncodeToString(salt), rawStd.EncodeToString(key))
}

// decodeHash parses an argon2id PHC string. Its errors wrap
// ErrMalformedHash and never quote encoded.
func decodeHash(encoded string) (p Params, salt, key []byte, err error) {
	malformed := func(format string, args ...any) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: "+format, append([]any{ErrMalformedHash}, args...)...)
	}
	if len(encoded) > maxEncodedLength {
		return malformed("longer than %d bytes", maxEncodedLength)
	}
	// "$argon2id$v=19$m=..,t=..,p=..$salt$hash" splits into 6 fields, the
	// first empty.
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return malformed("not in the PHC string format $argon2id$v=..$m=..,t=..,p=..$salt$hash")
	}
	if fields[1] != "argon2id" {
		return malformed("algorithm is not argon2id")
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return malformed("version is not v=%d", argon2.Version)
	}
	if p, err = parseParams(fields[3]); err != nil {
		return malformed("%v", err)
	}
	if err := p.validate(); err != nil {
		return malformed("%v", err)
	}
	if salt, err = rawStd.DecodeString(fields[4]); err != nil {
		return malformed("salt is not unpadded base64")
	}
	if len(salt) < minSaltLength || len(salt) > maxSaltLength {
		return malformed("salt must be %d to %d bytes, got %d", minSaltLength, maxSaltLength, len(salt))
	}
	if key, err = rawStd.DecodeString(fields[5]); err != nil {
		return malformed("hash is not unpadded base64")
	}
	if len(key) < minKeyLength || len(key) > maxKeyLength {
		return malformed("hash must be %d to %d bytes, got %d", minKeyLength, maxKeyLength, len(key))
	}
	return p, salt, key, nil
}

// parseParams parses "m=<uint>,t=<uint>,p=<uint>": each key exactly once, in
// any order, as decimal numbers without sign or leading zeros.
func parseParams(s string) (Params, error) {
	var p Params
	var seen [3]bool // m, t, p
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return p, errors.New("parameters must be m=N,t=N,p=N")
	}
	for _, part := range parts {
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return p, errors.New("parameters must be m=N,t=N,p=N")
		}
		var idx, bits int
		switch name {
		case "m":
			idx, bits = 0, 32
		case "t":
			idx, bits = 1, 32
		case "p":
			idx, bits = 2, 8
		default:
			return p, errors.New("unknown parameter; want m, t and p")
		}
		if seen[idx] {
			return p, fmt.Errorf("parameter %s appears twice", name)
		}
		seen[idx] = true
		if value == "" || value[0] < '0' || value[0] > '9' || (len(value) > 1 && value[0] == '0') {
			return p, fmt.Errorf("parameter %s is not a canonical decimal number", name)
		}
		n, err := strconv.ParseUint(value, 10, bits)
		if err != nil {
			return p, fmt.Errorf("parameter %s is out of range", name)
		}
		switch idx {
		case 0:
			p.Memory = uint32(n)
		case 1:
			p.Iterations = uint32(n)
		case 2:
			p.Threads = uint8(n)
		}
	}
	return p, nil
}

// ParamsOf returns the argon2id parameters of encoded, a hash as
// VerifyPassword accepts it, so a caller can tell how much memory checking
// a password against it takes (Params.Memory KiB). Its errors wrap
// ErrMalformedHash.
func ParamsOf(encoded string) (Params, error) {
	p, _, _, err := decodeHash(encoded)
	return p, err
}
