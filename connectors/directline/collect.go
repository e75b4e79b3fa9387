package directline

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
	"github.com/coder/websocket"
)

// replyMargin is kept free before the call's deadline, so a turn without
// replies ends with response-missing rather than the relay's timeout.
const replyMargin = 250 * time.Millisecond

// stream is an open websocket stream of a conversation; a goroutine reads
// its ActivitySets into frames, which closes when the stream ends.
type stream struct {
	conn   *websocket.Conn
	frames chan frame
	cancel context.CancelFunc
	done   chan struct{}
}

type frame struct {
	set activitySet
	err error
}

// openStream connects the conversation's stream: the unused URL of the
// start answer, or a new one from a reconnect. nil means polling (no
// stream offered, or it could not be opened).
func (b *Bot) openStream(ctx context.Context, st *vendorState) *stream {
	u := st.StreamURL
	st.StreamURL = ""
	if u == "" {
		ci, err := b.reconnect(ctx, st)
		if err != nil {
			b.env.Logger.WarnContext(ctx, "direct line reconnect failed; polling instead", "error", err)
			return nil
		}
		if b.cfg.Auth == AuthToken && ci.Token != "" {
			st.Token = ci.Token
		}
		u = ci.StreamURL
	}
	if u == "" {
		return nil
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{
		HTTPClient: b.env.HTTPClient,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + b.bearer(st)}, "User-Agent": {"botrelay"}},
	})
	if err != nil {
		// The stream URL carries a token: log the failure without it.
		b.env.Logger.WarnContext(ctx, "direct line stream could not be opened; polling instead", "error", kit.TransportCause(err))
		return nil
	}
	conn.SetReadLimit(maxBody)
	sctx, scancel := context.WithCancel(context.Background())
	s := &stream{conn: conn, frames: make(chan frame, 64), cancel: scancel, done: make(chan struct{})}
	go s.read(sctx)
	return s
}

func (s *stream) read(ctx context.Context) {
	defer close(s.done)
	defer close(s.frames)
	for {
		_, data, err := s.conn.Read(ctx)
		if err != nil {
			return
		}
		if len(bytes.TrimSpace(data)) == 0 {
			continue // a heartbeat
		}
		var f frame
		if err := json.Unmarshal(data, &f.set); err != nil {
			f.err = vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "the stream sent something that is not an ActivitySet%s", kit.Snippet(data))
		}
		select {
		case s.frames <- f:
		case <-ctx.Done():
			return
		}
	}
}

func (s *stream) close() {
	s.conn.Close(websocket.StatusNormalClosure, "")
	s.cancel()
	<-s.done
}

// collector gathers the activities that answer the posted one.
type collector struct {
	b       *Bot
	st      *vendorState
	replyTo string
	user    string
	replies []json.RawMessage
	seen    map[string]bool
	// typing shows the typing indicator (the turn's ShowTyping); nil when
	// the platform has none.
	typing func()
}

// take adds the replies of set and moves the watermark; it returns how many
// replies were new.
func (c *collector) take(set activitySet) int {
	if w := set.watermark(); w != "" {
		c.st.Watermark = w
	}
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	n := 0
	for _, raw := range set.Activities {
		var a struct {
			ID        string  `json:"id"`
			Type      string  `json:"type"`
			ReplyToID string  `json:"replyToId"`
			From      account `json:"from"`
		}
		if json.Unmarshal(raw, &a) != nil || (c.user != "" && a.From.ID == c.user) {
			continue
		}
		if a.Type == "typing" {
			// The bot is working on its answer: the consumer sees the
			// typing indicator; the activity itself is no reply.
			if c.typing != nil {
				c.typing()
			}
			continue
		}
		if a.ReplyToID != c.replyTo {
			continue
		}
		if a.ID != "" {
			if c.seen[a.ID] {
				continue
			}
			c.seen[a.ID] = true
		}
		c.replies = append(c.replies, raw)
		n++
	}
	return n
}

func (c *collector) result() activitySet {
	return activitySet{Activities: c.replies}
}

// replyDeadline is when waiting for the first reply gives up.
func (c *collector) replyDeadline(ctx context.Context) time.Time {
	d := time.Now().Add(time.Duration(c.b.cfg.ReplyTimeoutMs) * time.Millisecond)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-replyMargin).Before(d) {
		d = dl.Add(-replyMargin)
	}
	return d
}

func (c *collector) missing() error {
	return vendorErr(botrelay.ErrVendorBadReply, CodeResponseMissing, "the bot sent no activity in reply to %s within %v", c.replyTo, time.Duration(c.b.cfg.ReplyTimeoutMs)*time.Millisecond)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// byPolling polls until replies are found, then, with Multiple Activities,
// waits the interval and polls again while new replies keep arriving.
func (c *collector) byPolling(ctx context.Context) (activitySet, error) {
	deadline := c.replyDeadline(ctx)
	interval := time.Duration(c.b.cfg.PollIntervalMs) * time.Millisecond
	for len(c.replies) == 0 {
		set, err := c.b.getActivities(ctx, c.st)
		if err != nil {
			return activitySet{}, err
		}
		if c.take(set) > 0 {
			break
		}
		if time.Now().Add(interval).After(deadline) {
			return activitySet{}, c.missing()
		}
		if err := sleep(ctx, interval); err != nil {
			return activitySet{}, vendorErr(botrelay.ErrVendorUnavailable, CodeSendQuery, "waiting for the bot's reply: %v", err)
		}
	}
	return c.more(ctx, func(ctx context.Context, window time.Duration) (int, bool) {
		if sleep(ctx, window) != nil {
			return 0, false
		}
		set, err := c.b.getActivities(ctx, c.st)
		if err != nil {
			c.b.env.Logger.WarnContext(ctx, "direct line poll for more activities failed; using the replies found", "error", err)
			return 0, false
		}
		return c.take(set), true
	})
}

// more applies Multiple Activities: while a window of that length brings
// new replies, wait another one.
func (c *collector) more(ctx context.Context, window func(context.Context, time.Duration) (int, bool)) (activitySet, error) {
	w := time.Duration(c.b.cfg.MultipleActivitiesMs) * time.Millisecond
	if w <= 0 {
		return c.result(), nil
	}
	for {
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(w).After(dl.Add(-replyMargin)) {
			return c.result(), nil
		}
		n, ok := window(ctx, w)
		if !ok || n == 0 {
			return c.result(), nil
		}
	}
}

// fromStream reads the stream until replies are found, then applies
// Multiple Activities. When the stream ends early it polls instead.
func (c *collector) fromStream(ctx context.Context, s *stream) (activitySet, error) {
	timer := time.NewTimer(time.Until(c.replyDeadline(ctx)))
	defer timer.Stop()
	for len(c.replies) == 0 {
		select {
		case f, ok := <-s.frames:
			if !ok {
				c.b.env.Logger.WarnContext(ctx, "direct line stream ended; polling instead")
				return c.byPolling(ctx)
			}
			if f.err != nil {
				return activitySet{}, f.err
			}
			c.take(f.set)
		case <-timer.C:
			return activitySet{}, c.missing()
		case <-ctx.Done():
			return activitySet{}, vendorErr(botrelay.ErrVendorUnavailable, CodeSendQuery, "waiting for the bot's reply: %v", ctx.Err())
		}
	}
	return c.more(ctx, func(ctx context.Context, window time.Duration) (int, bool) {
		t := time.NewTimer(window)
		defer t.Stop()
		n := 0
		for {
			select {
			case f, ok := <-s.frames:
				if !ok || f.err != nil {
					return n, false
				}
				n += c.take(f.set)
			case <-t.C:
				return n, true
			case <-ctx.Done():
				return n, false
			}
		}
	})
}
