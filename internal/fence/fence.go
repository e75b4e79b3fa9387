// Package fence carries a fencing token through a context: the lease a
// write is made under. In cluster mode (docs/cluster.md) a bot's writes
// carry the bot's lease and the hub's writes the router lease; the store
// checks, in the same transaction as the write, that the lease is still the
// writer's, so a node that lost a lease (paused past its expiry, cut off
// from the database) can no longer save anything under it.
package fence

import (
	"context"
	"errors"
)

// Token names a lease and the holder's claim on it.
type Token struct {
	// Lease is the lease's name: "router", or "bot:<id>".
	Lease string
	// Node and Incarnation name the holder (one process of a node).
	Node, Incarnation string
	// Epoch is the lease's epoch when the holder acquired it; it grows by
	// one each time the lease changes hands.
	Epoch int64
}

// ErrLost is returned by a write whose lease is no longer the writer's.
var ErrLost = errors.New("fenced: this node no longer holds the lease (another node took it over)")

type key struct{}

// With returns ctx carrying t; writes made with it are fenced by t.
func With(ctx context.Context, t Token) context.Context {
	return context.WithValue(ctx, key{}, t)
}

// From returns the token ctx carries, if any.
func From(ctx context.Context) (Token, bool) {
	t, ok := ctx.Value(key{}).(Token)
	return t, ok
}
