// Package netcork lets a server coalesce the writes of one connection: while
// a connection is corked, what is written to it collects in memory, and
// uncorking sends it with one system call. The hub's websocket writer corks
// while it drains its queue, so frames that are ready together (a response
// and the notification that follows it, the events of many conversations
// on a bot's connection) leave in one write instead of one each; on this
// loopback each write also pays the receiver's TCP processing.
//
// Connections come from Listener; a handler finds its connection's Conn
// with FromContext when the server was given ConnContext.
package netcork

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// Conn is a net.Conn that can be corked.
type Conn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    []byte
}

// maxHeld bounds what a corked Conn holds before it writes anyway.
const maxHeld = 64 << 10

// Write sends p, or keeps it while the connection is corked.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked && len(c.buf)+len(p) <= maxHeld {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	if err := c.flushLocked(time.Time{}); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// Cork holds writes until Uncork.
func (c *Conn) Cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// Uncork sends what was held, giving up at deadline (zero: none).
func (c *Conn) Uncork(deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked(deadline)
}

func (c *Conn) flushLocked(deadline time.Time) error {
	if len(c.buf) == 0 {
		return nil
	}
	if !deadline.IsZero() {
		_ = c.Conn.SetWriteDeadline(deadline)
		defer c.Conn.SetWriteDeadline(time.Time{})
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > maxHeld {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// Listener hands out corkable connections.
type Listener struct{ net.Listener }

// Accept implements net.Listener.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: c}, nil
}

type ctxKey struct{}

// ConnContext is an http.Server ConnContext that makes the connection's
// Conn available to FromContext, also under TLS.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	if cc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, ctxKey{}, cc)
	}
	return ctx
}

// FromContext returns the request's corkable connection, or nil.
func FromContext(ctx context.Context) *Conn {
	c, _ := ctx.Value(ctxKey{}).(*Conn)
	return c
}
