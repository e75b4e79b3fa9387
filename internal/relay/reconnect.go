package relay

import (
	"context"
	"errors"
	"time"

	"github.com/botrelay/botrelay"
)

// A platform session can drop in the middle of a turn — the network, or in
// a cluster the node that routes the hub dying (docs/cluster.md) — while
// the bot itself runs on. A publish or an action that failed that way may
// or may not have reached the platform. The worker then waits for the
// session to come back, reads the history to see what went out (the
// markers), and goes on from there: the consumer sees each item once, as
// after a restart. Only when the session stays away past reconnectWait is
// the failure handled as any other (escalation).

// reconnectWait bounds the wait for a dropped session; reconnectPoll is
// how often the worker looks again.
const (
	reconnectWait = 60 * time.Second
	reconnectPoll = 250 * time.Millisecond
)

// disconnected reports whether err says the session was down.
func disconnected(err error) bool { return errors.Is(err, botrelay.ErrDisconnected) }

// awaitHistory waits until the session answers a history read again and
// returns the history after the turn's sequence; false when stopping or
// when the session stayed away past reconnectWait.
func (w *worker) awaitHistory(ctx context.Context, after int64) ([]*botrelay.PlatformEvent, bool) {
	deadline := time.NewTimer(reconnectWait)
	defer deadline.Stop()
	tick := time.NewTicker(reconnectPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, false
		case <-deadline.C:
			return nil, false
		case <-tick.C:
		}
		h, err := w.rn.history(ctx, w.ref, after)
		if err == nil {
			return h, true
		}
	}
}

// republish handles a publish of item i of ob that failed with err: when
// the session had dropped, it waits for it and reads the history; items
// the history shows went out are not published again. It returns the index
// of the next item to publish (i+1, or past what the history shows), or -1
// when the item is not out (stopping, or the session stayed away).
func (w *worker) republish(ctx context.Context, ob *outbox, i int, m *botrelay.Message, err error) int {
	for disconnected(err) {
		w.log.Info("platform session dropped during a turn; waiting for it", "conversation_id", string(w.ref.ID))
		history, ok := w.awaitHistory(ctx, ob.Seq)
		if !ok {
			return -1
		}
		done := publishedIn(history, ob.Key)
		if done >= i {
			return done + 1
		}
		_, err = w.platform.Publish(ctx, w.ref, withMarker(m, marker(ob.Key, i)))
	}
	if err != nil {
		return -1
	}
	return i + 1
}

// publishedIn returns the highest item index of key whose marker history
// shows, or -1.
func publishedIn(history []*botrelay.PlatformEvent, key string) int {
	done := -1
	markers(history, func(k string, j int) {
		if k == key && j > done {
			done = j
		}
	})
	return done
}

// retryAction runs an action again once a dropped session is back; it
// returns the last error (nil when it went through).
func (w *worker) retryAction(ctx context.Context, ob *outbox, err error, do func() error) error {
	for disconnected(err) {
		w.log.Info("platform session dropped during an action; waiting for it", "conversation_id", string(w.ref.ID))
		if _, ok := w.awaitHistory(ctx, ob.Seq); !ok {
			return err
		}
		err = do()
	}
	return err
}
