package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// KeySet is an API key set in LivePerson's shape, as shown to its owner
// once when it is created. AppKey and AccessToken identify the key and are
// stored in clear; Secret and AccessTokenSecret prove possession and are
// stored only as HashSecret values (see botrelay.APIKey).
//
// Every field is 32 lowercase hexadecimal characters encoding 16 random
// bytes. LivePerson's own secrets are 16 hex characters (64 bits); ours are
// twice as long so that each secret alone carries 128 bits, which is what
// makes the fast HashSecret adequate. Clients that check the length of the
// secrets against LivePerson's format must accept 32 characters.
type KeySet struct {
	AppKey            string
	Secret            string
	AccessToken       string
	AccessTokenSecret string
}

// keySetFieldBytes is the number of random bytes behind each KeySet field.
const keySetFieldBytes = 16

// NewKeySet returns a key set with every field drawn independently from
// crypto/rand. The error is non-nil only if the system's random source
// fails, which crypto/rand no longer reports since Go 1.24 (it aborts the
// program instead).
func NewKeySet() (KeySet, error) {
	var fields [4]string
	for i := range fields {
		b := make([]byte, keySetFieldBytes)
		if _, err := rand.Read(b); err != nil {
			return KeySet{}, fmt.Errorf("auth: reading random key: %w", err)
		}
		fields[i] = hex.EncodeToString(b)
	}
	return KeySet{
		AppKey:            fields[0],
		Secret:            fields[1],
		AccessToken:       fields[2],
		AccessTokenSecret: fields[3],
	}, nil
}

// secretHashPrefix names the algorithm of HashSecret values so another one
// can be introduced later.
const secretHashPrefix = "sha256:"

// HashSecret returns the stored form of an API secret: "sha256:" followed by
// the lowercase hex SHA-256 of secret.
//
// A fast, unsalted hash is adequate here, unlike for passwords. The secrets
// come from NewKeySet and are 128-bit random values: there is no dictionary
// of likely values to try, searching 2^128 candidates is infeasible however
// fast each guess is, and a salt adds nothing because no two secrets are
// alike. A slow hash such as argon2 would only make every API
// login cost tens of milliseconds and megabytes. Do not use HashSecret for
// values people choose.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return secretHashPrefix + hex.EncodeToString(sum[:])
}

// VerifySecret reports whether secret matches hash, a value from HashSecret,
// comparing in constant time. An empty secret never matches.
func VerifySecret(secret, hash string) bool {
	if secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(hash)) == 1
}

// RandomToken returns nbytes random bytes from crypto/rand as unpadded
// URL-safe base64 (base64.RawURLEncoding), for session tokens and similar
// bearer values; 32 bytes is a good size. It panics if nbytes is less than
// 1, since an empty token would be a bug waiting to authenticate someone.
func RandomToken(nbytes int) string {
	if nbytes < 1 {
		panic(fmt.Sprintf("auth: RandomToken(%d): nbytes must be positive", nbytes))
	}
	b := make([]byte, nbytes)
	readRandom(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// readRandom fills b from crypto/rand. Since Go 1.24 crypto/rand.Read never
// returns an error (the program aborts if randomness cannot be read), so
// the panic is unreachable; it keeps a failure loud should that change.
func readRandom(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic("auth: reading random bytes: " + err.Error())
	}
}
