package hub

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/botrelay/botrelay/internal/netcork"
)

// wsPair serves one websocket through a corking listener, as the server
// does, and returns the hub's side (its write loop not started) and the
// client's.
func wsPair(t *testing.T) (*conn, *websocket.Conn) {
	t.Helper()
	accepted := make(chan *conn, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		h := &Hub{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		accepted <- &conn{h: h, ws: ws, cork: netcork.FromContext(r.Context()), out: make(chan []byte, outboundQueue), done: make(chan struct{})}
	}))
	srv.Listener = netcork.Listener{Listener: srv.Listener}
	srv.Config.ConnContext = netcork.ConnContext
	srv.Start()
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+srv.URL[len("http"):], nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CloseNow() })
	select {
	case c := <-accepted:
		if c.cork == nil {
			t.Fatal("the test server's connection does not cork")
		}
		t.Cleanup(func() { c.ws.CloseNow() })
		return c, client
	case <-ctx.Done():
		t.Fatal("the server did not accept the websocket")
	}
	return nil, nil
}

// A client that stops reading while frames are written to it is
// disconnected once a write has waited writeTimeout, so a stuck peer does
// not hold the connection's writer (and its queue) for ever.
func TestStuckPeerDisconnectedAfterWriteTimeout(t *testing.T) {
	defer func(d time.Duration) { writeTimeout = d }(writeTimeout)
	writeTimeout = 300 * time.Millisecond
	c, _ := wsPair(t) // the client never reads
	go c.writeLoop(context.Background())
	// Far more than the loopback's socket buffers hold, far fewer frames
	// than the queue holds (a full queue would disconnect the client for
	// being too slow, not for a stuck write).
	frame := make([]byte, 1<<20)
	for i := range frame {
		frame[i] = 'x'
	}
	for range 64 {
		c.sendBytes(frame)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection to a client that reads nothing is still open 10 s later")
	}
}

// When the hub's context ends (the server stops), a connection waiting
// for its client's next frame is closed.
func TestServeEndsWithItsContext(t *testing.T) {
	c, client := wsPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		c.serve(ctx, nil) // no frame arrives, so no request is handled
	}()
	cancel()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("serve still running 10 s after its context ended")
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if _, _, err := client.Read(rctx); err == nil || rctx.Err() != nil {
		t.Fatalf("the client's read after the hub stopped: %v (want the connection closed)", err)
	}
}
