package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// target is where consumers connect: botrelay's hub or the floor.
type target struct {
	kind    string   // "botrelay" or "floor"
	base    string   // http://host:port
	bases   []string // when set, the i-th consumer connects to bases[i%len(bases)]
	account string
	skill   string
}

// at is the target of the i-th consumer: the nodes take them in turn.
func (t target) at(i int) target {
	if len(t.bases) > 0 {
		t.base = t.bases[i%len(t.bases)]
	}
	return t
}

const textPrefix = "bench "

// consumer is one consumer with one open conversation.
type consumer struct {
	c        *wsClient
	convID   string
	assigned chan struct{}
	aOnce    sync.Once
	epoch    time.Time

	mu     sync.Mutex
	sentAt []int64 // ns since epoch, by message index
	recvAt []int64
	slots  chan struct{} // closed-loop window
	acked  atomic.Int64  // PublishEvent answered 200
	nacked atomic.Int64  // PublishEvent answered otherwise
	odd    atomic.Int64  // agent texts that answer no message of ours
	dups   atomic.Int64  // answers seen a second time
}

var assignedMark = []byte(`"ASSIGNED_AGENT":["`)

func (c *consumer) notify(typ string, body json.RawMessage) {
	switch typ {
	case "cqm.ExConversationChangeNotification":
		if bytes.Contains(body, assignedMark) {
			c.aOnce.Do(func() { close(c.assigned) })
		}
	case "ms.MessagingEventNotification":
		now := int64(time.Since(c.epoch))
		var b struct {
			Changes []struct {
				Meta struct {
					Role string `json:"role"`
				} `json:"originatorMetadata"`
				Event struct {
					Type    string `json:"type"`
					Message any    `json:"message"`
				} `json:"event"`
			} `json:"changes"`
		}
		if json.Unmarshal(body, &b) != nil {
			return
		}
		for _, ch := range b.Changes {
			if ch.Meta.Role == "CONSUMER" || ch.Event.Type != "ContentEvent" {
				continue
			}
			text, _ := ch.Event.Message.(string)
			k, err := strconv.Atoi(strings.TrimPrefix(text, textPrefix))
			if !strings.HasPrefix(text, textPrefix) || err != nil {
				c.odd.Add(1)
				continue
			}
			c.mu.Lock()
			known := k >= 0 && k < len(c.recvAt)
			first := known && c.recvAt[k] == 0
			if first {
				c.recvAt[k] = now
			}
			c.mu.Unlock()
			switch {
			case !known:
				c.odd.Add(1)
				continue
			case !first:
				c.dups.Add(1)
				continue
			}
			if c.slots != nil {
				select {
				case <-c.slots:
				default:
				}
			}
		}
	}
}

// consumerToken gets an anonymous consumer identity from the hub.
func consumerToken(ctx context.Context, hc *http.Client, t target) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.base+"/api/account/"+t.account+"/consumer/token", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.Token == "" {
		return "", fmt.Errorf("consumer token: HTTP %d %v", resp.StatusCode, err)
	}
	return tok.Token, nil
}

// openConsumer connects a consumer, opens a conversation on the target's
// skill and waits until an agent (a bot) is assigned to it.
func openConsumer(ctx context.Context, hc *http.Client, t target, epoch time.Time, assignWait time.Duration) (*consumer, error) {
	c := &consumer{assigned: make(chan struct{}), epoch: epoch}
	ws := "ws" + strings.TrimPrefix(t.base, "http")
	if t.kind == "floor" {
		ws += "/floor/consumer"
	} else {
		tok, err := consumerToken(ctx, hc, t)
		if err != nil {
			return nil, err
		}
		ws += "/ws_api/account/" + t.account + "/messaging/consumer?v=3&token=" + url.QueryEscape(tok)
	}
	var err error
	c.c, err = dialWS(ctx, ws, nil, c.notify)
	if err != nil {
		return nil, err
	}
	c.c.onResp = func(code int) {
		if code == http.StatusOK {
			c.acked.Add(1)
		} else {
			c.nacked.Add(1)
		}
	}
	fail := func(err error) (*consumer, error) { c.c.Close(); return nil, err }
	body, err := c.c.Request(ctx, "cm.ConsumerRequestConversation", map[string]any{"channelType": "MESSAGING", "skill": t.skill})
	if err != nil {
		return fail(err)
	}
	var r struct {
		ConversationID string `json:"conversationId"`
	}
	if json.Unmarshal(body, &r) != nil || r.ConversationID == "" {
		return fail(fmt.Errorf("cm.ConsumerRequestConversation: no conversationId in %s", body))
	}
	c.convID = r.ConversationID
	if _, err := c.c.Request(ctx, "cqm.SubscribeExConversations", map[string]any{"convState": []string{"OPEN"}}); err != nil {
		return fail(err)
	}
	if _, err := c.c.Request(ctx, "ms.SubscribeMessagingEvents", map[string]any{"dialogId": c.convID, "conversationId": c.convID, "fromSeq": 0}); err != nil {
		return fail(err)
	}
	timer := time.NewTimer(assignWait)
	defer timer.Stop()
	select {
	case <-c.assigned:
	case <-timer.C:
		return fail(fmt.Errorf("conversation %s: no bot was assigned within %v (are the bots ONLINE with free slots?)", c.convID, assignWait))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	return c, nil
}

// openMany opens n consumers with the given parallelism; keep=false closes
// each websocket once its conversation is assigned (the conversation stays
// open in the hub and with its bot).
func openMany(ctx context.Context, t target, n, parallel int, keep bool, epoch time.Time, progress func(done int)) ([]*consumer, error) {
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: parallel}}
	defer hc.CloseIdleConnections()
	out := make([]*consumer, n)
	var next, done atomic.Int64
	var firstErr error
	var emu sync.Mutex
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range max(1, min(parallel, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := openConsumer(ctx, hc, t.at(i), epoch, 60*time.Second)
				if err != nil {
					emu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("open conversation %d of %d: %w", i+1, n, err)
					}
					emu.Unlock()
					cancel()
					return
				}
				if keep {
					out[i] = c
				} else {
					c.c.Close()
				}
				if d := done.Add(1); progress != nil && d%1000 == 0 {
					progress(int(d))
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		for _, c := range out {
			if c != nil {
				c.c.Close()
			}
		}
		return nil, firstErr
	}
	return out, nil
}

// loadResult is what one load phase measured on the client side.
type loadResult struct {
	window     time.Duration
	sent       int64 // messages sent inside the window
	replied    int64 // of those, answered by the bot (before the drain ended)
	inWindow   int64 // bot replies received inside the window (any message)
	latencies  []time.Duration
	totalSent  int64
	totalReply int64
	nacked     int64
	odd        int64
	dups       int64
	// disconnected counts consumers whose websocket closed during the load,
	// closedBy why (the close code, or the error).
	disconnected int64
	closedBy     map[string]int64
}

// runLoad sends messages from every consumer for warmup+d: at rate
// messages per second in all (0: each consumer keeps window messages
// outstanding, as fast as answers come back), then waits up to drain for
// the answers. measure is called at the start and the end of the measured
// window.
func runLoad(ctx context.Context, cs []*consumer, rate float64, window int, warmup, d, drain time.Duration, measure func(start bool)) loadResult {
	epoch := cs[0].epoch
	base := time.Since(epoch)
	wStart, wEnd := base+warmup, base+warmup+d
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range cs {
		c.mu.Lock()
		c.sentAt, c.recvAt = c.sentAt[:0], c.recvAt[:0]
		c.mu.Unlock()
		if rate <= 0 {
			c.slots = make(chan struct{}, max(window, 1))
		} else {
			c.slots = nil
		}
		var interval, first time.Duration
		if rate > 0 {
			interval = time.Duration(float64(len(cs)) / rate * float64(time.Second))
			first = base + time.Duration(i)*interval/time.Duration(len(cs)) // spread the consumers over one interval
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.sendLoop(ctx, epoch, interval, first, stop)
		}()
	}
	sleepUntil := func(t time.Duration) {
		if w := t - time.Since(epoch); w > 0 {
			select {
			case <-time.After(w):
			case <-ctx.Done():
			}
		}
	}
	sleepUntil(wStart)
	measure(true)
	sleepUntil(wEnd)
	measure(false)
	close(stop)
	wg.Wait()
	waitAnswered(cs, drain)
	return tally(cs, d, wStart, wEnd)
}

// sendLoop sends the consumer's messages until stop closes: one every
// interval from first on (both measured from epoch), or, with interval 0, one whenever the consumer
// has a free slot in its window.
func (c *consumer) sendLoop(ctx context.Context, epoch time.Time, interval, first time.Duration, stop <-chan struct{}) {
	next := first
	for k := 0; ; k++ {
		var at time.Duration
		if interval > 0 {
			if wait := next - time.Since(epoch); wait > 0 {
				select {
				case <-time.After(wait):
				case <-stop:
					return
				}
			}
			at = next // latency counts from the intended send time
			next += interval
		} else {
			select {
			case c.slots <- struct{}{}:
			case <-stop:
				return
			}
			at = time.Since(epoch)
		}
		select {
		case <-stop:
			return
		default:
		}
		c.mu.Lock()
		c.sentAt = append(c.sentAt, int64(at))
		c.recvAt = append(c.recvAt, 0)
		c.mu.Unlock()
		err := c.c.send(ctx, "ms.PublishEvent", map[string]any{"dialogId": c.convID, "event": map[string]string{
			"type": "ContentEvent", "contentType": "text/plain", "message": textPrefix + strconv.Itoa(k)}}, nil)
		if err != nil {
			return
		}
	}
}

// waitAnswered waits until every message sent has its answer, or drain
// passes.
func waitAnswered(cs []*consumer, drain time.Duration) {
	deadline := time.Now().Add(drain)
	for time.Now().Before(deadline) {
		missing := false
		for _, c := range cs {
			c.mu.Lock()
			for _, r := range c.recvAt {
				if r == 0 {
					missing = true
					break
				}
			}
			c.mu.Unlock()
			if missing {
				break
			}
		}
		if !missing {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tally counts what the consumers sent and received, in the window
// [wStart, wEnd) of length d and in all.
func tally(cs []*consumer, d, wStart, wEnd time.Duration) loadResult {
	res := loadResult{window: d}
	for _, c := range cs {
		c.mu.Lock()
		for k, s := range c.sentAt {
			r := c.recvAt[k]
			res.totalSent++
			if r != 0 {
				res.totalReply++
				if r >= int64(wStart) && r < int64(wEnd) {
					res.inWindow++
				}
			}
			if s < int64(wStart) || s >= int64(wEnd) {
				continue
			}
			res.sent++
			if r != 0 {
				res.replied++
				res.latencies = append(res.latencies, time.Duration(r-s))
			}
		}
		c.mu.Unlock()
		res.nacked += c.nacked.Load()
		res.odd += c.odd.Load()
		res.dups += c.dups.Load()
		select {
		case <-c.c.done:
			res.disconnected++
			if res.closedBy == nil {
				res.closedBy = map[string]int64{}
			}
			res.closedBy[closeReason(c.c.closeErr)]++
		default:
		}
	}
	return res
}

// prime has every consumer send one message and wait for its answer, so the
// bots' per-conversation state exists before the measured load starts (the
// first turn of a conversation does more than the next ones).
func prime(ctx context.Context, cs []*consumer, wait time.Duration) error {
	errc := make(chan error, len(cs))
	for _, c := range cs {
		go func() {
			c.mu.Lock()
			c.sentAt, c.recvAt = append(c.sentAt[:0], int64(time.Since(c.epoch))), append(c.recvAt[:0], 0)
			c.mu.Unlock()
			c.slots = make(chan struct{}, 1)
			c.slots <- struct{}{}
			if err := c.c.send(ctx, "ms.PublishEvent", map[string]any{"dialogId": c.convID, "event": map[string]string{
				"type": "ContentEvent", "contentType": "text/plain", "message": textPrefix + "0"}}, nil); err != nil {
				errc <- err
				return
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case c.slots <- struct{}{}: // the answer freed the slot
				errc <- nil
			case <-t.C:
				errc <- fmt.Errorf("conversation %s: no answer to the first message within %v", c.convID, wait)
			case <-ctx.Done():
				errc <- ctx.Err()
			}
		}()
	}
	var first error
	for range cs {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// closeReason names why a websocket closed: the peer's close code and
// reason, or the error.
func closeReason(err error) string {
	var ce websocket.CloseError
	switch {
	case err == nil:
		return "unknown"
	case errors.As(err, &ce):
		return strings.TrimSpace(fmt.Sprintf("%d %s", int(ce.Code), ce.Reason))
	default:
		return oneLine(err)
	}
}
