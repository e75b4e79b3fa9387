package hub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/fence"
	"github.com/botrelay/botrelay/internal/netcork"
	"github.com/botrelay/botrelay/ums"
)

// outboundQueue is how many frames may wait for a slow client before its
// websocket is closed with CloseTooSlow.
const outboundQueue = 512

// writeTimeout bounds one batch of frame writes (a variable for tests).
var writeTimeout = 15 * time.Second

// conn is one websocket: an agent's (sess set) or a consumer's (consumer
// set). One goroutine reads requests and handles them in order, except the
// requests about one conversation, which run in that conversation's lane
// (lanes.go); another goroutine writes the outbound queue. The
// subscription fields are guarded by Hub.mu.
type conn struct {
	h        *Hub
	ws       *websocket.Conn
	cork     *netcork.Conn // nil unless the server's listener corks
	host     string        // the public host the client connected to
	addr     string        // the client address, for the limits
	out      chan []byte
	done     chan struct{}
	doneOnce sync.Once
	wtimer   *time.Timer // bounds a batch of writes (writeLoop)

	// Agent side.
	sess       *session
	convSubs   map[string]*convSub
	routingSub string
	stateSub   string

	// Consumer side.
	consumer botrelay.ConsumerID
	msgSubs  map[botrelay.ConversationID]bool
}

// convSub is one conversation subscription (agent or consumer).
type convSub struct {
	id       string
	states   []string // empty: every state
	agentIDs []botrelay.UserID
	consumer botrelay.ConsumerID
}

// send encodes a frame and queues it without blocking. When the queue is
// full the connection is closed with CloseTooSlow. Safe with h.mu held.
func (c *conn) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.h.log.Error("encode frame", "err", err)
		return
	}
	c.sendBytes(b)
}

// sendBytes queues an encoded frame as send does. The connection keeps b:
// the caller must not change it (it may queue the same frame on several
// connections).
func (c *conn) sendBytes(b []byte) {
	select {
	case <-c.done:
	case c.out <- b:
	default:
		c.close(CloseTooSlow, "outbound queue full; reconnect and query missed messages")
	}
}

// close ends the connection with the code and reason; later calls do
// nothing. It does not wait for the close handshake (which may take seconds
// with an unresponsive peer), so it is safe to call from request handlers.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.doneOnce.Do(func() {
		close(c.done)
		go func() { _ = c.ws.Close(code, reason) }()
	})
}

// serve runs the connection until it ends. handle answers one request.
func (c *conn) serve(ctx context.Context, handle func(ctx context.Context, req *ums.Request) (any, error)) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go c.writeLoop(ctx)
	defer c.close(websocket.StatusNormalClosure, "")
	ln := newLanes()
	defer ln.wait()
	defer cancel() // before waiting for the lanes
	// Frames are read without a context: coder/websocket registers a
	// read's context with its parent for every frame (context.AfterFunc:
	// a lock and a map entry on the parent each time). ctx ending
	// closes the socket instead, which ends the read as the context did;
	// once the loop is over that is left to close (stop runs first).
	stop := context.AfterFunc(ctx, func() { _ = c.ws.CloseNow() })
	defer stop()
	for {
		typ, data, err := c.ws.Read(noDeadline)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			c.sendError(&ums.Error{Status: http.StatusBadRequest, Code: botrelay.EINVALID, Message: "frames must be text"})
			continue
		}
		req, err := ums.Decode(data)
		if err != nil {
			c.sendError(err)
			continue
		}
		if key := c.h.laneKey(req); key != "" {
			ln.run(key, func() { c.answer(ctx, req, handle) })
			continue
		}
		c.answer(ctx, req, handle)
	}
}

// answer handles one request and sends its answer.
func (c *conn) answer(ctx context.Context, req *ums.Request, handle func(ctx context.Context, req *ums.Request) (any, error)) {
	body, err := handle(ctx, req)
	if errors.Is(err, fence.ErrLost) {
		// This node no longer routes the hub (cluster mode): its write
		// was refused. No answer: the client sees the connection drop,
		// reconnects to the new router and finds there whether its
		// request went through (docs/cluster.md).
		c.close(CloseGoingAway, "this node no longer routes the hub; reconnect")
		return
	}
	if err != nil {
		var ue *ums.Error
		if errors.As(err, &ue) && ue.ReqID == "" {
			ue.ReqID = req.ID
		}
		c.sendErrorFor(req, err)
		return
	}
	switch body := body.(type) {
	case answered:
	case sequenceAnswer:
		c.sendBytes(ums.EncodeSequence(body.req, body.seq))
	default:
		c.send(ums.OK(req, body))
	}
}

// sequenceAnswer is the body a publish returns: {"sequence":seq}, written
// without encoding/json.
type sequenceAnswer struct {
	req *ums.Request
	seq int64
}

func (c *conn) writeLoop(ctx context.Context) {
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	// The writes are bounded by one timer, armed for each batch, rather
	// than by a context per batch, which coder/websocket registered with
	// the connection's context again for every frame (context.AfterFunc).
	// A batch that outlasts writeTimeout closes the socket, which ends the
	// write as the context did; ctx ending while the reader runs closes it
	// too (serve).
	c.wtimer = time.AfterFunc(time.Hour, func() { _ = c.ws.CloseNow() })
	c.wtimer.Stop()
	defer c.wtimer.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case b := <-c.out:
			if err := c.write(b); err != nil {
				c.close(websocket.StatusGoingAway, "write failed")
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil {
				c.close(websocket.StatusGoingAway, "ping timed out")
				return
			}
		}
	}
}

// write sends b and every frame queued behind it; with a corkable
// connection they leave in one system call.
func (c *conn) write(b []byte) error {
	c.wtimer.Reset(writeTimeout)
	defer c.wtimer.Stop()
	if c.cork != nil {
		c.cork.Cork()
	}
	for {
		if err := c.ws.Write(noDeadline, websocket.MessageText, b); err != nil {
			if c.cork != nil {
				_ = c.cork.Uncork(time.Now())
			}
			return err
		}
		if c.cork == nil {
			return nil
		}
		select {
		case b = <-c.out:
			continue
		default:
		}
		return c.cork.Uncork(time.Time{})
	}
}

// noDeadline is the context of the websocket's reads and writes: their
// bounds are the connection's timer and its context's end, which close
// the socket (writeLoop, serve).
var noDeadline = context.Background()

// sendError answers with an error response built from err.
func (c *conn) sendError(err error) { c.sendErrorFor(nil, err) }

func (c *conn) sendErrorFor(req *ums.Request, err error) {
	ue := toUMSError(err)
	if req != nil {
		ue.ReqID = req.ID
	}
	if ue.Status >= 500 {
		c.h.log.Error("request failed", "err", err)
	}
	c.send(ue.Response())
}

// toUMSError maps any error to a protocol error; internal errors keep their
// text out of the response.
func toUMSError(err error) *ums.Error {
	var ue *ums.Error
	if errors.As(err, &ue) {
		cp := *ue
		return &cp
	}
	code := botrelay.ErrorCode(err)
	return &ums.Error{Status: httpStatus(code), Code: code, Message: botrelay.ErrorMessage(err)}
}

// httpStatus maps a botrelay error code to its HTTP status.
func httpStatus(code string) int {
	switch code {
	case botrelay.EINVALID:
		return http.StatusBadRequest
	case botrelay.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case botrelay.EFORBIDDEN:
		return http.StatusForbidden
	case botrelay.ENOTFOUND:
		return http.StatusNotFound
	case botrelay.ECONFLICT:
		return http.StatusConflict
	case botrelay.ERATELIMITED:
		return http.StatusTooManyRequests
	case botrelay.ENOTIMPLEMENTED:
		return http.StatusBadRequest
	case botrelay.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// accept upgrades the request to a websocket registered with the hub.
func (h *Hub) accept(w http.ResponseWriter, r *http.Request) (*conn, error) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(ums.MaxFrameSize)
	c := &conn{
		h: h, ws: ws, host: h.o.PublicHost(r), addr: h.o.ClientAddr(r), cork: netcork.FromContext(r.Context()),
		out:      make(chan []byte, outboundQueue),
		done:     make(chan struct{}),
		convSubs: map[string]*convSub{}, msgSubs: map[botrelay.ConversationID]bool{},
	}
	return c, nil
}
