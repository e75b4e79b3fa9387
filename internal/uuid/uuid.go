// Package uuid makes the random ids botrelay gives bots, users, conversations,
// dialogs, subscriptions and errors: version 4 UUIDs in their usual text form.
// It is the module's one UUID generator; the structure test fails on another.
package uuid

import (
	"crypto/rand"
	"fmt"
)

// New returns a random (version 4, RFC 9562) UUID such as
// "3f0c1d2e-4b5a-4c6d-8e7f-0123456789ab".
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
