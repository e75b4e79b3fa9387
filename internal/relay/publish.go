package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// Exactly once, as the consumer sees it (F45). The hub stores a consumer's
// message before acknowledging it; the relay keeps, per conversation, the
// sequence of the last message it fully handled, the vendor state, and the
// reply it is carrying out (the outbox). Every message the relay publishes
// carries a marker, {"type":"ExternalId","id":"botrelay:<turn>:<item>"}, in
// its metadata, so that after a restart the history shows which items of
// an interrupted reply went out.
//
// A turn is finished only when its messages and its action are done: the
// outbox stays stored until the action (transfer, close, TTR, function,
// escalation transfer) is carried out, and the state that records the
// action's result (the conversation let go, the turn handled) is saved in
// the same write that clears the outbox. A kill at any instant therefore
// ends, after the restart, with every item published once and the action
// done once: the platform's own state makes a repeated transfer or close
// impossible (the bot no longer holds the conversation, so it is not
// resumed), and a repeated TTR change is harmless. A function invocation is
// the exception: it is recorded as started before it runs and is not run
// again after a restart (at most once; docs/connector.md).
//
// The common turn — one message, no action, no new vendor state — is
// published without storing it first; its marker in the history is its
// record (answeredThrough), and the state is saved every maxUnsavedTurns
// such turns.

// Turn keys: the marker prefix of a consumer message's turn, a welcome and
// an escalation, each followed by the sequence the turn is about.
const (
	keyConsumer = "s"
	keyWelcome  = "w"
	keyEscalate = "e"
)

// outbox is a reply being carried out, stored so that a restart finishes it
// instead of asking the vendor again. Key names the turn; Next is the next
// item to publish.
type outbox struct {
	Key   string          `json:"key"`
	Seq   int64           `json:"seq"`
	Next  int             `json:"next"`
	Reply *botrelay.Reply `json:"reply"`
	// Escalation, when set, makes the outbox an escalation (F31): its items
	// are the configured messages and its action the transfer to the
	// escalation skill.
	Escalation *escalation `json:"escalation,omitempty"`
	// Invoked records that the reply's function invocation started (F30):
	// it is not run a second time after a restart.
	Invoked bool `json:"invoked,omitempty"`
}

// process runs one turn through the pipeline (F15): vendor call with retries
// within the vendor timeout, validation, then publishing and the action.
func (w *worker) process(ctx context.Context, turn *botrelay.Turn, seq int64, kind string) {
	reply, err := w.converseOrFallback(ctx, turn)
	if err == nil {
		err = w.validate(reply)
	}
	if err != nil {
		if ctx.Err() != nil {
			return // stopping: the message is processed after the restart
		}
		w.escalate(ctx, classify(err, codePipelineError), err.Error(), turn, seq)
		return
	}
	stateChanged := reply.VendorState != nil && !bytes.Equal(reply.VendorState, w.st.VendorState)
	if reply.VendorState != nil {
		w.st.VendorState = reply.VendorState
	}
	ob := &outbox{Key: kind + strconv.FormatInt(seq, 10), Seq: seq, Reply: reply}
	if kind == keyConsumer && !stateChanged && reply.Action == nil && len(reply.Items) == 1 && reply.Items[0].Message != nil && !w.isSurvey() {
		// The common turn: one message answers one consumer message and
		// changes nothing else. It is published without storing it first:
		// the one write of the turn is the message itself, which carries
		// the turn's marker. A restart that finds the marker in the history
		// knows the turn was answered (answeredThrough); one that does not
		// asks the vendor again, as it would after a crash during the call.
		w.st.Outbox = nil
		w.finishOutbox(ctx, ob, false)
		return
	}
	if !w.storeOutbox(ctx, ob) {
		return
	}
	w.finishOutbox(ctx, ob, false)
}

// storeOutbox saves the conversation with ob as its outbox.
func (w *worker) storeOutbox(ctx context.Context, ob *outbox) bool {
	raw, err := json.Marshal(ob)
	if err != nil {
		w.log.Error("encode outbox", "err", err)
		return false
	}
	w.st.Outbox = raw
	return w.save(ctx) == nil
}

// finishOutbox publishes a reply from its next item, then carries out its
// action (F24). recovering is set when a restart found the outbox stored.
func (w *worker) finishOutbox(ctx context.Context, ob *outbox, recovering bool) {
	if recovering {
		history, err := w.rn.history(ctx, w.ref, ob.Seq)
		if err != nil {
			// Without the history, publishing could repeat what went
			// out: wait for the platform, or leave the outbox stored
			// for the next resume.
			var ok bool
			if history, ok = w.awaitHistory(ctx, ob.Seq); !ok {
				return
			}
		}
		if done := publishedIn(history, ob.Key); done+1 > ob.Next {
			ob.Next = done + 1
		}
	}
	if !w.publishItems(ctx, ob) {
		return
	}
	if ob.Escalation != nil {
		w.escalationTransfer(ctx, ob)
		return
	}
	action := ob.Reply.Action
	if action == nil && !recovering {
		// A reply without an action is finished in memory only: the
		// conversation's next save (the next turn's outbox, its close, or
		// the save every maxUnsavedTurns turns) stores it. Until then the
		// store holds this outbox, fully published, or none; a restart
		// finds every item's marker in the history and neither publishes
		// nor asks again. One commit less per turn.
		w.st.Outbox = nil
		w.st.LastSequence = max(w.st.LastSequence, ob.Seq)
		if w.unsaved++; w.unsaved >= maxUnsavedTurns {
			_ = w.save(ctx)
		}
		return
	}
	if action == nil {
		w.finish(ctx, ob.Seq)
		return
	}
	w.act(ctx, ob)
}

// publishItems publishes the outbox's items from Next, in order; it reports
// false when it stopped (stopping, or a failed publish that escalated).
func (w *worker) publishItems(ctx context.Context, ob *outbox) bool {
	for i := ob.Next; i < len(ob.Reply.Items); i++ {
		it := ob.Reply.Items[i]
		switch {
		case it.Message != nil:
			_, err := w.platform.Publish(ctx, w.ref, withMarker(it.Message, marker(ob.Key, i)))
			if err != nil {
				if next := w.republish(ctx, ob, i, it.Message, err); next > i {
					// The session dropped and came back: go on after
					// what the history shows went out.
					i = next - 1
					ob.Next = next
					continue
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return false
				}
				if ob.Escalation != nil {
					// An escalation's message could not be published: the
					// transfer is what matters now.
					w.log.Warn("publish escalation message", "conversation_id", string(w.ref.ID), "err", err)
					continue
				}
				w.escalate(ctx, codeSendMessage, "publish a message: "+err.Error(), nil, ob.Seq)
				return false
			}
			if strings.TrimSpace(it.Message.Text) != "" && it.Message.Audience != botrelay.AudienceAgentsAndManagers {
				w.lastText = it.Message.Text
			}
		case it.Delay != nil:
			if !w.pause(ctx, it.Delay) {
				return false
			}
		}
		// Progress is not saved item by item: each published item carries
		// its marker, and a restart reads the markers from the history
		// (published) to go on after the last one that went out.
		ob.Next = i + 1
	}
	return true
}

// finish clears the outbox and marks the turn's message handled.
func (w *worker) finish(ctx context.Context, seq int64) {
	w.st.Outbox = nil
	w.st.LastSequence = max(w.st.LastSequence, seq)
	_ = w.save(ctx)
}

// pause waits out a delay with the typing indicator (F20); false when
// stopping.
func (w *worker) pause(ctx context.Context, d *botrelay.Delay) bool {
	if d.Typing {
		if err := w.platform.SetTyping(ctx, w.ref, true); err != nil {
			w.log.Debug("typing indicator", "err", err)
		}
	}
	t := time.NewTimer(d.Duration)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	if d.Typing {
		_ = w.platform.SetTyping(ctx, w.ref, false)
	}
	return true
}

// say publishes a configured text, if any, without a marker: the chat
// warning and close messages, and a survey's error message.
func (w *worker) say(ctx context.Context, text, audience string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	if _, err := w.platform.Publish(ctx, w.ref, &botrelay.Message{Text: text, Audience: audience}); err != nil {
		w.log.Warn("publish configured message", "conversation_id", string(w.ref.ID), "err", err)
	}
}

// sayOnce publishes a configured text, if any, as item i of ob's turn, once:
// a restart that finds its marker in the history does not publish it again.
func (w *worker) sayOnce(ctx context.Context, ob *outbox, i int, text string) {
	if strings.TrimSpace(text) == "" || w.published(ctx, ob.Key, ob.Seq) >= i {
		return
	}
	m := &botrelay.Message{Text: text, Audience: botrelay.AudienceAll}
	if _, err := w.platform.Publish(ctx, w.ref, withMarker(m, marker(ob.Key, i))); err != nil {
		w.log.Warn("publish configured message", "conversation_id", string(w.ref.ID), "err", err)
	}
}

// marker tags each published item so that a restart can tell what was
// already published (exactly-once as the consumer sees it).
func marker(key string, i int) string { return "botrelay:" + key + ":" + strconv.Itoa(i) }

// withMarker returns a copy of m whose metadata (an array, or a value made
// one) ends with the marker id.
func withMarker(m *botrelay.Message, id string) *botrelay.Message {
	cp := *m
	if len(m.Metadata) == 0 && plainID(id) {
		// The common case, without encoding/json: the bytes it makes.
		b := make([]byte, 0, len(id)+32)
		b = append(b, `[{"id":"`...)
		b = append(b, id...)
		cp.Metadata = append(b, `","type":"ExternalId"}]`...)
		return &cp
	}
	var meta []json.RawMessage
	if len(m.Metadata) > 0 {
		if err := json.Unmarshal(m.Metadata, &meta); err != nil {
			meta = []json.RawMessage{m.Metadata}
		}
	}
	tag, _ := json.Marshal(map[string]string{"type": "ExternalId", "id": id})
	meta = append(meta, tag)
	cp.Metadata, _ = json.Marshal(meta)
	return &cp
}

// plainID reports whether id is made of characters JSON writes as they
// are (a marker's letters, digits and colons).
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == ':' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// markers calls fn with the turn key and item index of each of the relay's
// markers on the bot messages of history.
func markers(history []*botrelay.PlatformEvent, fn func(key string, item int)) {
	for _, h := range history {
		if h.Kind != botrelay.EventBotMessage || len(h.Metadata) == 0 || !bytes.Contains(h.Metadata, []byte("botrelay:")) {
			continue
		}
		var meta []struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if json.Unmarshal(h.Metadata, &meta) != nil {
			continue
		}
		for _, m := range meta {
			rest, ok := strings.CutPrefix(m.ID, "botrelay:")
			if m.Type != "ExternalId" || !ok {
				continue
			}
			key, item, ok := strings.Cut(rest, ":")
			if i, err := strconv.Atoi(item); ok && err == nil {
				fn(key, i)
			}
		}
	}
}

// published reports the highest item index of key already in the history.
func (w *worker) published(ctx context.Context, key string, after int64) int {
	history, err := w.rn.history(ctx, w.ref, after)
	if err != nil {
		return -1
	}
	done := -1
	markers(history, func(k string, i int) {
		if k == key && i > done {
			done = i
		}
	})
	return done
}

// answeredThrough reports the highest consumer message sequence whose
// answer history shows. A conversation's turns run in order, so every
// consumer message up to it was handled: answered, combined with a later
// one, or escalated.
func answeredThrough(history []*botrelay.PlatformEvent) int64 {
	var last int64
	markers(history, func(key string, _ int) {
		if s, ok := strings.CutPrefix(key, keyConsumer); ok {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > last {
				last = n
			}
		}
	})
	return last
}

// storedOutbox decodes the outbox a restart found; nil (and the outbox
// dropped) when it cannot be read.
func (w *worker) storedOutbox(ctx context.Context) *outbox {
	var ob outbox
	if err := json.Unmarshal(w.st.Outbox, &ob); err != nil || ob.Reply == nil {
		w.log.Error("decode outbox; dropping it", "conversation_id", string(w.ref.ID), "err", err)
		w.st.Outbox = nil
		_ = w.save(ctx)
		return nil
	}
	return &ob
}
