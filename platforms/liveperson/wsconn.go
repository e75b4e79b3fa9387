package liveperson

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// wsConn is one websocket: a single reader goroutine, serialised writes
// and the requests waiting for answers.
type wsConn struct {
	a   *Adapter
	c   *websocket.Conn
	ctx context.Context // the session's
	q   *queue
	st  *loginState
	gen uint64 // set by subscribe before the subscription is sent

	writeMu sync.Mutex
	wtimer  *time.Timer // bounds a write (write); guarded by writeMu

	mu      sync.Mutex
	pending map[string]chan inFrame
	closed  bool
	err     error
	done    chan struct{} // closed when the reader ends
}

type timeoutError struct {
	typ     string
	timeout time.Duration
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("liveperson: %s: no answer within %s", e.typ, e.timeout)
}

// Timeout reports true, as net errors do.
func (e *timeoutError) Timeout() bool { return true }

func (wc *wsConn) lostErr() error {
	select {
	case <-wc.done:
		wc.mu.Lock()
		defer wc.mu.Unlock()
		return wc.err
	default:
		return nil
	}
}

func (wc *wsConn) close(code websocket.StatusCode, reason string) {
	go func() { _ = wc.c.Close(code, reason) }()
	// Close waits for the peer's close frame for a while; make sure the
	// reader ends soon whatever the peer does.
	go func() {
		select {
		case <-wc.done:
		case <-time.After(2 * time.Second):
			_ = wc.c.CloseNow()
		}
	}()
}

func (wc *wsConn) request(ctx context.Context, typ string, body any, metadata json.RawMessage, encoded string) (json.RawMessage, error) {
	return wc.requestFrame(ctx, typ, func(id string) ([]byte, error) {
		return json.Marshal(outFrame{Kind: "req", ID: id, Type: typ, Body: body, Metadata: metadata, EncodedMetadata: encoded})
	})
}

// requestFrame is request with the frame written by encode, given the
// request's id.
func (wc *wsConn) requestFrame(ctx context.Context, typ string, encode func(id string) ([]byte, error)) (json.RawMessage, error) {
	timeout := wc.a.opts.RequestTimeout
	id := strconv.FormatUint(wc.a.ids.Add(1), 10)
	data, err := encode(id)
	if err != nil {
		return nil, fmt.Errorf("liveperson: %s: %w", typ, err)
	}
	ch := make(chan inFrame, 1)
	wc.mu.Lock()
	if wc.closed {
		wc.mu.Unlock()
		return nil, ErrNotConnected
	}
	wc.pending[id] = ch
	wc.mu.Unlock()
	defer func() {
		wc.mu.Lock()
		delete(wc.pending, id)
		wc.mu.Unlock()
	}()

	// The answer is awaited until ctx ends or the timeout passes: a timer
	// rather than a context derived from ctx, which every request would
	// register with (and lock) ctx for.
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// A write that ctx interrupts would close the websocket; the write is
	// bounded by the timeout only, and by the session's end (readLoop).
	err = wc.write(data, timeout)
	if err != nil {
		return nil, fmt.Errorf("%w: sending %s: %v", ErrNotConnected, typ, wc.a.redact(err))
	}
	select {
	case f := <-ch:
		if f.Code >= 400 {
			return nil, &Error{Code: f.Code, Op: typ, Message: wc.a.errorMessage(f.Body)}
		}
		return f.Body, nil
	case <-wc.done:
		return nil, fmt.Errorf("%w: the connection was lost before %s was answered", ErrNotConnected, typ)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-deadline.C:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &timeoutError{typ: typ, timeout: timeout}
	}
}

// write sends one frame within timeout. A timer, rather than a context
// per write (which coder/websocket registers with its parent, and the
// session's context had one such child per request in flight), closes
// the socket when the write outlasts it, as the context did.
func (wc *wsConn) write(data []byte, timeout time.Duration) error {
	wc.writeMu.Lock()
	defer wc.writeMu.Unlock()
	if wc.wtimer == nil {
		wc.wtimer = time.AfterFunc(timeout, func() { _ = wc.c.CloseNow() })
	} else {
		wc.wtimer.Reset(timeout)
	}
	err := wc.c.Write(context.Background(), websocket.MessageText, data)
	wc.wtimer.Stop()
	return err
}

// readLoop is the connection's only reader: it routes answers to their
// requests and turns notifications into events, in the order they come.
func (wc *wsConn) readLoop() {
	var err error
	defer func() {
		wc.mu.Lock()
		wc.closed = true
		wc.err = err
		wc.mu.Unlock()
		close(wc.done)
	}()
	// Frames are read without a context: coder/websocket registers a
	// read's context with its parent for every frame (context.AfterFunc),
	// a lock and a map entry on the session's context each time. The
	// session's end closes the socket instead, which ends the read as the
	// context did.
	stop := context.AfterFunc(wc.ctx, func() { _ = wc.c.CloseNow() })
	defer stop()
	for {
		var data []byte
		_, data, err = wc.c.Read(context.Background())
		if err != nil {
			return
		}
		wc.frame(data)
	}
}

// frame routes one frame the platform sent: an answer to its request, a
// notification to the events it means.
func (wc *wsConn) frame(data []byte) {
	if !wc.liveMessage(data) {
		wc.anyFrame(data)
	}
}

// anyFrame is frame for any frame: decoded whole, then its body by type.
func (wc *wsConn) anyFrame(data []byte) {
	var f inFrame
	if json.Unmarshal(data, &f) != nil {
		wc.a.log.Debug("liveperson: ignoring a frame that is not JSON")
		return
	}
	switch f.Kind {
	case "resp":
		id := rawString(f.ReqID)
		wc.mu.Lock()
		ch := wc.pending[id]
		wc.mu.Unlock()
		if ch != nil {
			select {
			case ch <- f:
			default:
			}
		}
	case "notification":
		wc.a.notification(wc, f.Type, f.Body)
	}
}
