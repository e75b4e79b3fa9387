package hub

import (
	"encoding/json"
	"sync"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// A bot's adapter carries all of the bot's conversations on one websocket.
// Handled one after another, its requests would wait on each other's store
// commits: a bot could publish only as fast as one commit follows another.
// So the requests that concern one conversation (publish, query messages,
// update a conversation) run in that conversation's lane, in the order they
// arrived, and the lanes of different conversations run at once; every
// other request is handled in order on the reading goroutine. Answers carry
// the request id, so their order across conversations does not matter.

// maxLanes bounds the conversations one connection has in flight; the
// reader waits (and so the client does) when they are all busy.
const maxLanes = 64

type lanes struct {
	mu    sync.Mutex
	queue map[string][]func()
	sem   chan struct{}
	wg    sync.WaitGroup
}

func newLanes() *lanes {
	return &lanes{queue: map[string][]func(){}, sem: make(chan struct{}, maxLanes)}
}

// run queues f on the lane of key and starts the lane if it is idle.
func (l *lanes) run(key string, f func()) {
	l.mu.Lock()
	if q, busy := l.queue[key]; busy {
		l.queue[key] = append(q, f)
		l.mu.Unlock()
		return
	}
	l.queue[key] = []func(){}
	l.mu.Unlock()
	l.sem <- struct{}{}
	l.wg.Add(1)
	go func() {
		defer func() {
			<-l.sem
			l.wg.Done()
		}()
		for {
			f()
			l.mu.Lock()
			q := l.queue[key]
			if len(q) == 0 {
				delete(l.queue, key)
				l.mu.Unlock()
				return
			}
			f, l.queue[key] = q[0], q[1:]
			l.mu.Unlock()
		}
	}()
}

// wait returns when every lane is done.
func (l *lanes) wait() { l.wg.Wait() }

// laneKey is the conversation a request concerns, or "" for requests
// handled in order.
func (h *Hub) laneKey(req *ums.Request) string {
	var b struct {
		ConversationID string `json:"conversationId"`
		DialogID       string `json:"dialogId"`
	}
	switch ums.Canonical(req.Type) {
	case "ms.PublishEvent":
		// Decoded whole, once (by ums.Decode when it could): publish
		// takes the body from req.Parsed.
		pb, ok := req.Parsed.(*ums.PublishEventBody)
		if !ok {
			pb = new(ums.PublishEventBody)
			if json.Unmarshal(req.Body, pb) != nil {
				return ""
			}
			req.Parsed = pb
		}
		b.ConversationID, b.DialogID = pb.ConversationID, pb.DialogID
	case "ms.QueryMessages", "cm.UpdateConversationField":
		if json.Unmarshal(req.Body, &b) != nil {
			return ""
		}
	default:
		return ""
	}
	if b.ConversationID != "" {
		return b.ConversationID
	}
	if b.DialogID == "" {
		return ""
	}
	// A survey dialog's id is not its conversation's: map it, so that a
	// conversation's requests share one lane whichever id they name.
	h.mu.Lock()
	conv, ok := h.dialogOwner(botrelay.DialogID(b.DialogID))
	h.mu.Unlock()
	if ok {
		return string(conv)
	}
	return b.DialogID
}
