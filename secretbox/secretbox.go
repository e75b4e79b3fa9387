// Package secretbox encrypts secrets at rest, such as vendor credentials
// stored next to a bot, with AES-256-GCM under one master key.
//
// A sealed value is laid out as
//
//	version (1 byte, 0x01) || nonce (12 random bytes) || ciphertext || tag (16 bytes)
//
// and the version byte is authenticated together with the caller's
// additional data, so neither can be changed without Open failing. The
// additional data is not stored: the caller supplies the same bytes to Seal
// and Open. Use it to bind a ciphertext to where it belongs, for example
// []byte("bot/42/vendorPassword"), so a value copied into another row or
// field does not decrypt. Build it so that distinct owners can never produce
// the same bytes (use a separator that cannot occur in the parts).
//
// Random 96-bit nonces are safe for up to about 2^32 Seal calls under one
// key, far beyond what a credential store needs.
//
// LoadKey finds the master key in the environment or in a key file in the
// data directory, creating the file on first start.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the length in bytes of a master key (AES-256).
const KeySize = 32

// Version is the format version byte that starts every sealed value.
const Version byte = 0x01

const (
	nonceSize = 12
	tagSize   = 16
)

// Overhead is how many bytes Seal adds to the plaintext: the version byte,
// the nonce and the authentication tag.
const Overhead = 1 + nonceSize + tagSize

// Errors returned by Open and OpenString. They never include the plaintext,
// the ciphertext or the key.
var (
	// ErrTooShort means the sealed value is shorter than Overhead bytes.
	ErrTooShort = errors.New("secretbox: sealed value is too short")
	// ErrUnknownVersion means the sealed value does not start with Version.
	ErrUnknownVersion = errors.New("secretbox: sealed value has an unknown format version")
	// ErrDecrypt means authentication failed: the value was altered, was
	// sealed under another key, or is opened with other additional data.
	ErrDecrypt = errors.New("secretbox: message authentication failed (wrong key, wrong additional data or corrupted value)")
	// ErrMalformed means a value given to OpenString is not valid padded
	// standard base64.
	ErrMalformed = errors.New("secretbox: sealed value is not valid base64")
)

// Box seals and opens values under one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box using key, which must be exactly KeySize (32) bytes. The
// Box does not keep a reference to key; the caller may clear it afterwards.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts and authenticates plaintext, binding it to additionalData,
// and returns version || nonce || ciphertext || tag. Each call draws a fresh
// random nonce, so sealing the same plaintext twice gives different outputs.
// The error is non-nil only if the system's random source fails.
func (b *Box) Seal(plaintext []byte, additionalData []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, Overhead+len(plaintext))
	out[0] = Version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("secretbox: reading random nonce: %w", err)
	}
	return b.aead.Seal(out, out[1:], plaintext, authData(additionalData)), nil
}

// Open authenticates and decrypts a value made by Seal with the same key and
// additionalData. It returns ErrTooShort, ErrUnknownVersion or ErrDecrypt
// when it cannot; it never panics on malformed input.
func (b *Box) Open(sealed []byte, additionalData []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, ErrTooShort
	}
	if sealed[0] != Version {
		return nil, ErrUnknownVersion
	}
	nonce, ciphertext := sealed[1:1+nonceSize], sealed[1+nonceSize:]
	plaintext, err := b.aead.Open(nil, nonce, ciphertext, authData(additionalData))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

// SealString is Seal for text: it seals plaintext bound to additionalData and
// returns the result in padded standard base64 (base64.StdEncoding, RFC 4648
// section 4), which fits a TEXT column and decodes with common tools such as
// `base64 -d` and PostgreSQL's decode(value, 'base64').
func (b *Box) SealString(plaintext, additionalData string) (string, error) {
	sealed, err := b.Seal([]byte(plaintext), []byte(additionalData))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// OpenString reverses SealString: it decodes encoded from padded standard
// base64 and opens it with additionalData. It returns ErrMalformed when
// encoded is not valid base64, and otherwise fails as Open does.
func (b *Box) OpenString(encoded, additionalData string) (string, error) {
	sealed, err := base64.StdEncoding.Strict().DecodeString(encoded)
	if err != nil {
		return "", ErrMalformed
	}
	plaintext, err := b.Open(sealed, []byte(additionalData))
	if err != nil {
		return "", err
	}
	return string(plaintext), nil
}

// authData returns the data GCM authenticates besides the ciphertext: the
// version byte followed by the caller's additional data. The version has a
// fixed length, so the concatenation is unambiguous.
func authData(additionalData []byte) []byte {
	ad := make([]byte, 0, 1+len(additionalData))
	ad = append(ad, Version)
	return append(ad, additionalData...)
}
