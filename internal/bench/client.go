package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// wsClient is one websocket client of the frame protocol (docs/protocol.md
// §1): requests carry increasing ids, responses are matched by id, and
// notifications go to onNotify on the read goroutine.
type wsClient struct {
	conn     *websocket.Conn
	ctx      context.Context
	cancel   context.CancelFunc
	onNotify func(typ string, body json.RawMessage)
	onResp   func(code int) // every response that no Request waits for
	done     chan struct{}
	closeErr error // why the read loop ended; set before done closes

	wmu  sync.Mutex // serialises id allocation with the write, so ids go out in order
	mu   sync.Mutex
	next int
	wait map[string]chan frameIn
}

type frameIn struct {
	Kind  string          `json:"kind"`
	ReqID string          `json:"reqId"`
	Type  string          `json:"type"`
	Code  int             `json:"code"`
	Body  json.RawMessage `json:"body"`
}

type frameOut struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Type string `json:"type"`
	Body any    `json:"body"`
}

func dialWS(ctx context.Context, url string, header http.Header, onNotify func(string, json.RawMessage)) (*wsClient, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, url, &websocket.DialOptions{HTTPHeader: header, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket %s: HTTP %d: %w", trimQuery(url), resp.StatusCode, err)
		}
		return nil, fmt.Errorf("websocket %s: %w", trimQuery(url), err)
	}
	conn.SetReadLimit(4 << 20)
	c := &wsClient{conn: conn, onNotify: onNotify, wait: map[string]chan frameIn{}, done: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.read()
	return c, nil
}

func trimQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(c.ctx)
		if err != nil {
			c.closeErr = err
			c.mu.Lock()
			for id, ch := range c.wait {
				close(ch)
				delete(c.wait, id)
			}
			c.mu.Unlock()
			return
		}
		var f frameIn
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch f.Kind {
		case "resp":
			c.mu.Lock()
			ch := c.wait[f.ReqID]
			delete(c.wait, f.ReqID)
			c.mu.Unlock()
			if ch != nil {
				ch <- f
			} else if c.onResp != nil {
				c.onResp(f.Code)
			}
		case "notification":
			if c.onNotify != nil {
				c.onNotify(f.Type, f.Body)
			}
		}
	}
}

// send writes a request without waiting for its response; the response goes
// to onResp (or to ch when given).
func (c *wsClient) send(ctx context.Context, typ string, body any, ch chan frameIn) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	c.next++
	id := strconv.Itoa(c.next)
	if ch != nil {
		c.wait[id] = ch
	}
	c.mu.Unlock()
	data, err := json.Marshal(frameOut{Kind: "req", ID: id, Type: typ, Body: body})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return c.conn.Write(wctx, websocket.MessageText, data)
}

// Request sends a request and waits for its response.
func (c *wsClient) Request(ctx context.Context, typ string, body any) (json.RawMessage, error) {
	ch := make(chan frameIn, 1)
	if err := c.send(ctx, typ, body, ch); err != nil {
		return nil, fmt.Errorf("%s: %w", typ, err)
	}
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case f, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: connection closed", typ)
		}
		if f.Code != 200 {
			return nil, fmt.Errorf("%s: %d %s", typ, f.Code, bytes.TrimSpace(f.Body))
		}
		return f.Body, nil
	case <-t.C:
		return nil, fmt.Errorf("%s: no response within 30s", typ)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close disconnects and waits for the read goroutine.
func (c *wsClient) Close() {
	_ = c.conn.Close(websocket.StatusNormalClosure, "")
	c.cancel()
	<-c.done
}
