package testrig

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// peer is a websocket client of the hub's frame protocol: requests with
// their responses matched by id; notifications go to onNotify.
type peer struct {
	t        testing.TB
	conn     *websocket.Conn
	ctx      context.Context
	cancel   context.CancelFunc
	onNotify func(frame)

	mu      sync.Mutex
	next    int
	waiting map[string]chan frame
}

func newPeer(t testing.TB, ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn, onNotify func(frame)) *peer {
	conn.SetReadLimit(4 << 20)
	p := &peer{t: t, conn: conn, ctx: ctx, cancel: cancel, onNotify: onNotify, waiting: map[string]chan frame{}}
	go p.read()
	return p
}

func (p *peer) read() {
	for {
		_, data, err := p.conn.Read(p.ctx)
		if err != nil {
			return
		}
		var f frame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch f.Kind {
		case "resp":
			p.mu.Lock()
			ch := p.waiting[f.ReqID]
			delete(p.waiting, f.ReqID)
			p.mu.Unlock()
			if ch != nil {
				ch <- f
			}
		case "notification":
			p.onNotify(f)
		}
	}
}

// Request sends a request and waits for its response code and body.
func (p *peer) Request(typ string, body any) (int, json.RawMessage) {
	p.t.Helper()
	return p.RequestWithMetadata(typ, body, nil)
}

// RequestWithMetadata is Request with the request-level metadata array
// LivePerson's PublishEvent carries.
func (p *peer) RequestWithMetadata(typ string, body any, metadata json.RawMessage) (int, json.RawMessage) {
	p.t.Helper()
	p.mu.Lock()
	p.next++
	id := strconv.Itoa(p.next)
	ch := make(chan frame, 1)
	p.waiting[id] = ch
	p.mu.Unlock()
	raw, _ := json.Marshal(body)
	data, _ := json.Marshal(frame{Kind: "req", ID: id, Type: typ, Body: raw, Metadata: metadata})
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := p.conn.Write(ctx, websocket.MessageText, data); err != nil {
		p.t.Fatalf("%s: write: %v", typ, err)
	}
	select {
	case f := <-ch:
		return f.Code, f.Body
	case <-ctx.Done():
		p.t.Fatalf("%s: no response within 10s", typ)
		return 0, nil
	}
}

// Close disconnects.
func (p *peer) Close() {
	p.cancel()
	p.conn.Close(websocket.StatusNormalClosure, "")
}

type frame struct {
	Kind  string          `json:"kind"`
	ID    string          `json:"id,omitempty"`
	ReqID string          `json:"reqId,omitempty"`
	Type  string          `json:"type"`
	Code  int             `json:"code,omitempty"`
	Body  json.RawMessage `json:"body"`
	// Metadata is a request's metadata array (PublishEvent).
	Metadata json.RawMessage `json:"metadata,omitempty"`
}
