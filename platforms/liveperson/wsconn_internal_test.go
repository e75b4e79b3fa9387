package liveperson

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// stuckPlatform accepts one websocket and never reads from it; it returns
// the adapter's side as a wsConn on ctx.
func stuckPlatform(t *testing.T, ctx context.Context) *wsConn {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		<-release
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, "ws"+srv.URL[len("http"):], nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsConn{c: c, ctx: ctx, pending: map[string]chan inFrame{}, done: make(chan struct{})}
}

// A request frame the platform does not take (it stopped reading) fails
// once the request timeout has passed, rather than holding the
// connection's writer for ever.
func TestWriteToStuckPlatformTimesOut(t *testing.T) {
	wc := stuckPlatform(t, context.Background())
	frame := make([]byte, 1<<20)
	errs := make(chan error, 1)
	go func() {
		var err error
		// Far more than the loopback's socket buffers hold.
		for i := 0; i < 64 && err == nil; i++ {
			err = wc.write(frame, 300*time.Millisecond)
		}
		errs <- err
	}()
	select {
	case err := <-errs:
		if err == nil {
			t.Fatal("64 MiB written to a platform that reads nothing")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write to a platform that reads nothing still waits 10 s later")
	}
}

// The session's end ends the connection's reader, also while the
// platform sends nothing.
func TestReaderEndsWithTheSession(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	wc := stuckPlatform(t, ctx)
	go wc.readLoop()
	cancel()
	select {
	case <-wc.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the reader still runs 10 s after the session ended")
	}
}
