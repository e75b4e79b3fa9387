package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/botrelay/botrelay"
)

// worker processes one conversation's events in order (F24). Different
// conversations have different workers and run concurrently.
type worker struct {
	rn  *runner
	ref botrelay.ConversationRef

	mu     sync.Mutex
	queue  []*botrelay.PlatformEvent
	signal chan struct{}
	quit   chan struct{}
	once   sync.Once

	st    *botrelay.BotConversation // loaded on the first event
	sdes  json.RawMessage           // engagement attributes, read once at assignment (F13)
	buf   []*botrelay.PlatformEvent // combine buffer (F10)
	timer *time.Timer

	// Chat inactivity timers (F34), restarted by consumer messages.
	warnTimer, closeTimer *time.Timer

	// The current turn's vendor request and raw response, for the
	// error-hook (F36).
	lastReq, lastResp json.RawMessage

	// lastText is the bot's last published text: a survey's question.
	lastText string

	// unsaved counts the turns finished since the state was last stored.
	unsaved int

	// running is whether the worker has a goroutine (guarded by the
	// runner's mu; see runner.park).
	running bool
}

// saveTimeout bounds one store write that must happen even while stopping.
const saveTimeout = 10 * time.Second

// maxUnsavedTurns bounds the turns a conversation finishes without storing
// its state, and so the history a restart reads to find where it was.
const maxUnsavedTurns = 16

func newWorker(rn *runner, ref botrelay.ConversationRef) *worker {
	return &worker{rn: rn, ref: ref, signal: make(chan struct{}, 1), quit: make(chan struct{})}
}

func (w *worker) push(ev *botrelay.PlatformEvent) {
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// queued is how many events wait for the worker.
func (w *worker) queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

func (w *worker) stop() { w.once.Do(func() { close(w.quit) }) }

func (w *worker) run(ctx context.Context) {
	parked := false
	defer func() {
		if parked {
			return // the worker is another goroutine's from now on
		}
		for _, t := range []*time.Timer{w.timer, w.warnTimer, w.closeTimer} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	for {
		var timerC, warnC, closeC <-chan time.Time
		if w.timer != nil {
			timerC = w.timer.C
		}
		if w.warnTimer != nil {
			warnC = w.warnTimer.C
		}
		if w.closeTimer != nil {
			closeC = w.closeTimer.C
		}
		select {
		case <-warnC:
			w.warnTimer = nil
			if w.st != nil && w.st.Open {
				w.say(ctx, w.rn.bot.Settings.Chat.WarningMessage, botrelay.AudienceAll)
			}
		case <-closeC:
			w.closeTimer = nil
			if w.st != nil && w.st.Open && w.inactiveClose(ctx) {
				if w.rn.retire(w) {
					return
				}
			}
		case <-ctx.Done():
			w.rn.retire(w)
			return
		case <-w.quit:
			w.rn.retire(w)
			return
		case <-timerC:
			w.timer = nil
			w.flush(ctx)
		case <-w.signal:
			w.mu.Lock()
			evs := w.queue
			w.queue = nil
			w.mu.Unlock()
			done := false
			for i, ev := range evs {
				if done = w.handle(ctx, ev); done {
					// Events after the one that ended the bot's part go back
					// to the queue: a transfer back may already be there.
					w.mu.Lock()
					w.queue = append(evs[i+1:len(evs):len(evs)], w.queue...)
					w.mu.Unlock()
					break
				}
			}
			if done {
				if w.rn.retire(w) {
					return
				}
				w.st = nil // a later assignment reloads the state
				select {
				case w.signal <- struct{}{}:
				default:
				}
				continue
			}
			if w.timer == nil && w.warnTimer == nil && w.closeTimer == nil && len(w.signal) == 0 && w.rn.park(w) {
				parked = true
				return
			}
		}
	}
}

// handle processes one event; it reports true when the bot no longer holds
// the conversation.
func (w *worker) handle(ctx context.Context, ev *botrelay.PlatformEvent) bool {
	if ev.Conversation.DialogID != "" {
		w.ref.DialogID = ev.Conversation.DialogID
	}
	if ev.Conversation.SkillID != 0 {
		w.ref.SkillID = ev.Conversation.SkillID
	}
	switch ev.Kind {
	case botrelay.EventAssigned, botrelay.EventSurveyStarted:
		w.assigned(ctx, ev)
	case botrelay.EventConsumerMessage:
		if w.st == nil {
			// Only an assignment brings a conversation back to the bot: a
			// message that was on its way when the bot let the conversation
			// go (transfer, escalation, close) is not the bot's any more.
			if st, err := w.rn.r.o.Store.BotConversation(ctx, w.rn.bot.ID, w.ref.ID); err == nil && !st.Open {
				return true
			}
			w.assigned(ctx, ev)
			return w.st == nil || !w.st.Open
		}
		if !w.st.Open || ev.Sequence <= w.st.LastSequence {
			return false
		}
		w.message(ctx, ev)
	case botrelay.EventConsumerTyping:
		c := w.rn.bot.Settings.Messaging.Combine
		if ev.Typing && len(w.buf) > 0 && c.AfterTypingSeconds > 0 {
			w.resetTimer(time.Duration(c.AfterTypingSeconds) * time.Second)
		}
	case botrelay.EventUnassigned:
		w.unassigned(ctx, ev)
		return true
	}
	return w.st != nil && !w.st.Open
}

// assigned loads or creates the conversation's state, applies the checks of
// a new conversation (F5, F4), welcomes (F12), finishes a reply a restart
// interrupted, and processes the consumer messages that arrived meanwhile.
func (w *worker) assigned(ctx context.Context, ev *botrelay.PlatformEvent) {
	rn := w.rn
	w.collectSDEs(ctx, ev)
	st, err := rn.r.o.Store.BotConversation(ctx, rn.bot.ID, w.ref.ID)
	isNew, resumed := errors.Is(err, botrelay.ErrNotFound), false
	if err != nil && !isNew {
		rn.log.Error("load conversation state", "conversation_id", string(w.ref.ID), "err", err)
		return
	}
	if isNew || !st.Open {
		// A new conversation, or one that comes back to the bot after a
		// transfer: a fresh assignment.
		if isNew {
			st = &botrelay.BotConversation{BotID: rn.bot.ID, ConversationID: w.ref.ID}
		}
		st.Open, st.Welcomed, st.Outbox = true, false, nil
		st.DialogID, st.ConsumerID, st.SkillID = w.ref.DialogID, w.ref.ConsumerID, w.ref.SkillID
		w.st = st
		open, err := rn.r.o.Store.CountOpenBotConversations(ctx, rn.bot.ID)
		if err != nil {
			rn.log.Error("count open conversations", "err", err)
		}
		if err := w.save(ctx); err != nil {
			return
		}
		if open >= rn.bot.Settings.Limits.MaxOpen() {
			w.escalate(ctx, "pipes.conversation-limit-checker.max-conv-limit-reached",
				fmt.Sprintf("the bot already holds %d open conversations (limit %d)", open, rn.bot.Settings.Limits.MaxOpen()), nil)
			return
		}
		if rn.isVendorDown() {
			w.escalate(ctx, "pipes.vendor-interruption.escalated",
				"the bot is in Vendor Interruption: new conversations are escalated without calling the vendor", nil)
			return
		}
	} else {
		w.st, resumed = st, true
		if w.ref.DialogID == "" {
			w.ref.DialogID = st.DialogID
		}
	}
	if len(w.st.Outbox) > 0 {
		if ob := w.storedOutbox(ctx); ob != nil {
			w.finishOutbox(ctx, ob, true)
		}
		if !w.st.Open {
			return
		}
	}
	if w.isSurvey() && ev.Kind == botrelay.EventSurveyStarted {
		w.surveyStarted(ctx)
	}
	history, err := rn.history(ctx, w.ref, w.st.LastSequence)
	if err != nil {
		rn.log.Warn("read conversation history", "conversation_id", string(w.ref.ID), "err", err)
	}
	if resumed {
		// Turns answered since the last save (see finishOutbox).
		w.st.LastSequence = max(w.st.LastSequence, answeredThrough(history))
	}
	w.resetInactivity()
	if w.needsWelcome(ev) {
		w.st.Welcomed = true
		turn := w.turn(botrelay.TurnStart, ev)
		if ev.Kind == botrelay.EventSurveyStarted {
			turn.Kind = botrelay.TurnSurvey
		}
		turn.LastConsumerMessage = lastConsumerText(history, ev)
		w.process(ctx, turn, w.st.LastSequence, "w")
		if !w.st.Open {
			return
		}
	}
	for _, h := range history {
		if h.Kind == botrelay.EventConsumerMessage && h.Sequence > w.st.LastSequence {
			w.message(ctx, h)
			if !w.st.Open {
				return
			}
		}
	}
	if ev.Kind == botrelay.EventConsumerMessage && ev.Sequence > w.st.LastSequence && w.st.Open {
		w.message(ctx, ev)
	}
}

// resetInactivity restarts the chat inactivity timers (F34) after consumer
// activity or an assignment.
func (w *worker) resetInactivity() {
	ch := w.rn.bot.Settings.Chat
	if w.rn.bot.ConversationType != botrelay.Chat {
		return
	}
	for _, t := range []*time.Timer{w.warnTimer, w.closeTimer} {
		if t != nil {
			t.Stop()
		}
	}
	w.warnTimer, w.closeTimer = nil, nil
	if ch.WarningAfterSeconds > 0 && ch.WarningMessage != "" {
		w.warnTimer = time.NewTimer(time.Duration(ch.WarningAfterSeconds) * time.Second)
	}
	if ch.CloseAfterSeconds > 0 {
		w.closeTimer = time.NewTimer(time.Duration(ch.CloseAfterSeconds) * time.Second)
	}
}

// inactiveClose sends the close message and ends the chat (F34); it
// reports whether the bot let the conversation go.
func (w *worker) inactiveClose(ctx context.Context) bool {
	w.say(ctx, w.rn.bot.Settings.Chat.CloseMessage, botrelay.AudienceAll)
	if err := w.rn.platform.Close(ctx, w.ref, true); err != nil {
		w.logError(ctx, "connector.chat.end-conversation", "close an inactive chat: "+err.Error(), nil)
		return false
	}
	w.close(ctx)
	return true
}

func (w *worker) needsWelcome(ev *botrelay.PlatformEvent) bool {
	if w.st.Welcomed {
		return false
	}
	b := w.rn.bot
	return ev.Kind == botrelay.EventSurveyStarted || b.ConversationType == botrelay.Chat || b.Settings.Messaging.WelcomeMessage
}

func lastConsumerText(history []*botrelay.PlatformEvent, ev *botrelay.PlatformEvent) string {
	last := ""
	for _, h := range history {
		if h.Kind == botrelay.EventConsumerMessage && h.Text != "" {
			last = h.Text
		}
	}
	if last == "" && ev.Kind == botrelay.EventConsumerMessage {
		last = ev.Text
	}
	return last
}

// message handles one consumer message: combined (F10) or at once.
func (w *worker) message(ctx context.Context, ev *botrelay.PlatformEvent) {
	w.resetInactivity()
	if w.isSurvey() {
		w.surveyAnswer(ctx, ev)
	}
	c := w.rn.bot.Settings.Messaging.Combine
	if !c.Enabled || ev.Text == "" || ev.RichContent != nil || ev.File != nil {
		w.flush(ctx)
		w.process(ctx, w.consumerTurn(ev), ev.Sequence, "s")
		return
	}
	for _, b := range w.buf {
		if b.Sequence == ev.Sequence {
			return
		}
	}
	w.buf = append(w.buf, ev)
	if len(w.buf) >= c.MaxMessages {
		w.flush(ctx)
		return
	}
	w.resetTimer(time.Duration(c.WindowSeconds) * time.Second)
}

func (w *worker) resetTimer(d time.Duration) {
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = time.NewTimer(d)
}

// flush sends the combined messages as one turn.
func (w *worker) flush(ctx context.Context) {
	if len(w.buf) == 0 {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	buf := w.buf
	w.buf = nil
	last := buf[len(buf)-1]
	texts := make([]string, len(buf))
	for i, b := range buf {
		texts[i] = b.Text
	}
	turn := w.consumerTurn(last)
	turn.Text = strings.Join(texts, " ")
	w.process(ctx, turn, last.Sequence, "s")
}

func (w *worker) consumerTurn(ev *botrelay.PlatformEvent) *botrelay.Turn {
	t := w.turn(botrelay.TurnText, ev)
	t.Text = ev.Text
	t.Metadata = ev.Metadata
	switch {
	case ev.RichContent != nil:
		t.Kind, t.Text, t.RichContent = botrelay.TurnRichContent, botrelay.EventConsumerRichContent, ev.RichContent
	case ev.File != nil:
		t.Kind, t.Text, t.File = botrelay.TurnFile, botrelay.EventConsumerFile, ev.File
	}
	return t
}

func (w *worker) turn(kind botrelay.TurnKind, ev *botrelay.PlatformEvent) *botrelay.Turn {
	ref := w.ref
	ref.Type = w.rn.bot.ConversationType
	sdes := w.sdes
	if sdes == nil {
		sdes = json.RawMessage(`{}`)
	}
	return &botrelay.Turn{Kind: kind, Conversation: ref, LPEvent: ev.Raw, SDEs: sdes, VendorState: w.st.VendorState}
}

// collectSDEs takes the conversation's engagement attributes once, when the
// bot gets the conversation, if the bot collects them (F13). On the hub
// they come with the consumer's conversationContext as "lpSdes", already in
// LivePerson's {unauthenticatedSdes, authenticatedSdes} shape; a missing or
// empty set is logged and the conversation goes on with {}.
func (w *worker) collectSDEs(ctx context.Context, ev *botrelay.PlatformEvent) {
	if !w.rn.bot.Settings.Messaging.EngagementAttributes || w.sdes != nil ||
		(ev.Kind != botrelay.EventAssigned && ev.Kind != botrelay.EventSurveyStarted) {
		return
	}
	var c struct {
		SDEs json.RawMessage `json:"lpSdes"`
	}
	_ = json.Unmarshal(ev.Context, &c)
	if r, ok := w.rn.platform.(botrelay.EngagementAttributesReader); ok && len(c.SDEs) == 0 {
		// Not in the context (LivePerson never puts them there): ask the
		// platform (GetUserProfile of the consumer).
		sdes, err := r.EngagementAttributes(ctx, ev.Conversation)
		if err != nil {
			w.rn.log.Warn("engagement attributes", "conversation_id", string(w.ref.ID), "err", err)
		}
		c.SDEs = sdes
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(c.SDEs, &m) != nil || len(m) == 0 {
		w.sdes = json.RawMessage(`{}`)
		w.logError(ctx, "sdes-service.uauth-sdes-entry-is-empty", "the conversation has no engagement attributes", nil)
		return
	}
	w.sdes = c.SDEs
}

// outbox is a reply being published, stored so that a restart finishes it
// instead of asking the vendor again. Key names the turn ("s<seq>" for a
// consumer message, "w<seq>" for a welcome); Next is the next item.
type outbox struct {
	Key   string          `json:"key"`
	Seq   int64           `json:"seq"`
	Next  int             `json:"next"`
	Reply *botrelay.Reply `json:"reply"`
}

// process runs one turn through the pipeline (F15): vendor call with retries
// within the vendor timeout, validation, then publishing.
func (w *worker) process(ctx context.Context, turn *botrelay.Turn, seq int64, kind string) {
	rn := w.rn
	reply, err := w.converse(ctx, turn)
	if err == nil {
		err = w.validate(reply)
	}
	if err != nil {
		if ctx.Err() != nil {
			return // stopping: the message is processed after the restart
		}
		w.st.LastSequence = max(w.st.LastSequence, seq)
		w.escalate(ctx, classify(err, "events-queue.not-catched-pipeline-error"), err.Error(), turn)
		return
	}
	stateChanged := reply.VendorState != nil && !bytes.Equal(reply.VendorState, w.st.VendorState)
	if reply.VendorState != nil {
		w.st.VendorState = reply.VendorState
	}
	ob := &outbox{Key: kind + strconv.FormatInt(seq, 10), Seq: seq, Reply: reply}
	if kind == "s" && !stateChanged && reply.Action == nil && len(reply.Items) == 1 && reply.Items[0].Message != nil && !w.isSurvey() {
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
	raw, err := json.Marshal(ob)
	if err != nil {
		rn.log.Error("encode outbox", "err", err)
		return
	}
	w.st.Outbox = raw
	if err := w.save(ctx); err != nil {
		return
	}
	w.finishOutbox(ctx, ob, false)
}

// converse calls the vendor, retrying unavailability within the timeout
// (F42), through the pre- and post-hooks when the bot has them (F36).
func (w *worker) converse(ctx context.Context, turn *botrelay.Turn) (*botrelay.Reply, error) {
	timeout := w.rn.bot.Settings.Limits.VendorTimeout()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w.lastReq, w.lastResp = nil, nil
	// A vendor that says its bot is typing shows the consumer the typing
	// indicator until the call ends.
	var typing atomic.Bool
	turn.ShowTyping = func() {
		if typing.CompareAndSwap(false, true) {
			if err := w.rn.platform.SetTyping(ctx, w.ref, true); err != nil {
				w.rn.log.Debug("typing indicator", "err", err)
			}
		}
	}
	defer func() {
		turn.ShowTyping = nil
		if typing.Load() {
			_ = w.rn.platform.SetTyping(ctx, w.ref, false)
		}
	}()
	call := w.rn.vendor.Converse
	hooks := w.rn.bot.Settings.Hooks
	// With any hook, a hookable vendor is called step by step, so the
	// error-hook gets the request and the response too (F36).
	if hb, ok := w.rn.vendor.(botrelay.HookableBot); ok && (hooks.PreHook != "" || hooks.PostHook != "" || hooks.ErrorHook != "") {
		call = func(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) { return w.hooked(ctx, hb, t) }
	}
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		reply, err := call(cctx, turn)
		if err == nil {
			if reply == nil {
				reply = &botrelay.Reply{}
			}
			return reply, nil
		}
		if cctx.Err() != nil {
			return nil, botrelay.NewVendorError(botrelay.ErrVendorUnavailable, w.rn.timeoutCode,
				"the vendor did not answer within %v", timeout)
		}
		deadline, _ := cctx.Deadline()
		var ve *botrelay.VendorError
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || attempt >= 3 || w.rn.retriesInternally ||
			time.Until(deadline) < backoff || (errors.As(err, &ve) && ve.RetryAfter > 0) {
			return nil, err
		}
		select {
		case <-time.After(backoff):
		case <-cctx.Done():
			return nil, err
		}
		backoff *= 2
	}
}

// hooked is one vendor call with hooks: build the request, let the
// pre-hook rewrite it, exchange it, let the post-hook rewrite the raw
// response, parse it (F15, F36).
func (w *worker) hooked(ctx context.Context, hb botrelay.HookableBot, t *botrelay.Turn) (*botrelay.Reply, error) {
	hooks := w.rn.bot.Settings.Hooks
	req, err := hb.BuildRequest(ctx, t)
	if err != nil {
		return nil, err
	}
	if hooks.PreHook != "" {
		if req, err = w.runHook(ctx, "pre-hook", hooks.PreHook, req); err != nil {
			return nil, err
		}
	}
	w.lastReq = req
	resp, state, err := hb.Exchange(ctx, t, req)
	if err != nil {
		return nil, err
	}
	w.lastResp = resp
	if hooks.PostHook != "" {
		if resp, err = w.runHook(ctx, "post-hook", hooks.PostHook, resp); err != nil {
			return nil, err
		}
	}
	reply, err := hb.ParseResponse(ctx, t, resp)
	if err != nil {
		return nil, err
	}
	if reply.VendorState == nil {
		reply.VendorState = state
	}
	return reply, nil
}

// runHook runs a hook with payload as input.payload and returns what it
// answered; a failure is aivendor.faas.failed-hook.
func (w *worker) runHook(ctx context.Context, name, code string, payload json.RawMessage) (json.RawMessage, error) {
	scripts := w.rn.r.o.Scripts
	if scripts == nil {
		return nil, botrelay.NewVendorError(botrelay.ErrUnsupported, "aivendor.faas.failed-hook", "%s: this connector runs no functions", name)
	}
	input, _ := json.Marshal(map[string]any{"headers": []any{}, "payload": payload})
	out, err := scripts.RunScript(ctx, code, input)
	if err != nil {
		return nil, botrelay.NewVendorError(botrelay.ErrVendorBadReply, "aivendor.faas.failed-hook", "%s: %v", name, err)
	}
	return out, nil
}

// errorHook runs the bot's error-hook, if any, after an error was logged
// (F31 step 1, F36); its answer is ignored and its failure only logged.
func (w *worker) errorHook(ctx context.Context, errorID, code string) {
	src := w.rn.bot.Settings.Hooks.ErrorHook
	if src == "" {
		return
	}
	payload := map[string]any{
		"error":  map[string]string{"errorId": errorID, "name": botrelay.ErrorCodePrefix + code},
		"vendor": w.rn.bot.Vendor,
	}
	if hb, ok := w.rn.vendor.(botrelay.HookableBot); ok {
		info := hb.HookInfo()
		payload["vendor"] = info.Vendor
		if w.lastReq != nil {
			payload[info.RequestKey] = w.lastReq
		}
		if w.lastResp != nil {
			payload[info.ResponseKey] = w.lastResp
		}
	}
	raw, _ := json.Marshal(payload)
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := w.runHook(hctx, "error-hook", src, raw); err != nil {
		w.logError(ctx, "aivendor.faas.failed-hook", err.Error(), nil)
	}
}

// validate applies F16 and drops blank texts (F17).
func (w *worker) validate(r *botrelay.Reply) error {
	items := r.Items[:0:0]
	messages, delays := 0, 0
	for _, it := range r.Items {
		switch {
		case it.Message != nil:
			m := it.Message
			if strings.TrimSpace(m.Text) == "" && len(m.StructuredContent) == 0 {
				continue
			}
			if len(m.QuickReplies) > 0 && w.rn.bot.ConversationType == botrelay.Chat {
				return botrelay.NewVendorError(botrelay.ErrVendorBadReply, "pipes.verify-ai-response.quick-replies-not-supported",
					"quick replies are not supported in chat conversations")
			}
			messages++
		case it.Delay != nil:
			delays++
		default:
			continue
		}
		items = append(items, it)
	}
	r.Items = items
	if messages == 0 && r.Action == nil && delays == 0 {
		if len(r.Skipped) > 0 {
			return botrelay.NewVendorError(botrelay.ErrVendorBadReply, "pipes.verify-ai-response.no-messages-and-not-supported-action",
				"the reply has no messages and only unsupported actions: %s", strings.Join(r.Skipped, ", "))
		}
		return botrelay.NewVendorError(botrelay.ErrVendorBadReply, "pipes.verify-ai-response.missing-action-and-messages",
			"the reply has neither messages nor an action")
	}
	return nil
}

// marker tags each published item so that a restart can tell what was
// already published (exactly-once as the consumer sees it).
func marker(key string, i int) string { return fmt.Sprintf("botrelay:%s:%d", key, i) }

func withMarker(m *botrelay.Message, id string) *botrelay.Message {
	cp := *m
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
		if s, ok := strings.CutPrefix(key, "s"); ok {
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
		w.rn.log.Error("decode outbox; dropping it", "conversation_id", string(w.ref.ID), "err", err)
		w.st.Outbox = nil
		_ = w.save(ctx)
		return nil
	}
	return &ob
}

// finishOutbox publishes a reply from its next item, then carries out its
// action (F24).
func (w *worker) finishOutbox(ctx context.Context, ob *outbox, recovering bool) {
	rn := w.rn
	if recovering {
		if done := w.published(ctx, ob.Key, ob.Seq); done+1 > ob.Next {
			ob.Next = done + 1
		}
	}
	for i := ob.Next; i < len(ob.Reply.Items); i++ {
		it := ob.Reply.Items[i]
		switch {
		case it.Message != nil:
			if _, err := rn.platform.Publish(ctx, w.ref, withMarker(it.Message, marker(ob.Key, i))); err != nil {
				if ctx.Err() != nil {
					return
				}
				w.finish(ctx, ob.Seq)
				w.escalate(ctx, "connector.messaging.send-message", "publish a message: "+err.Error(), nil)
				return
			}
			if strings.TrimSpace(it.Message.Text) != "" && it.Message.Audience != botrelay.AudienceAgentsAndManagers {
				w.lastText = it.Message.Text
			}
		case it.Delay != nil:
			if !w.pause(ctx, it.Delay) {
				return
			}
		}
		// Progress is not saved item by item: each published item carries
		// its marker, and a restart reads the markers from the history
		// (published) to go on after the last one that went out.
		ob.Next = i + 1
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
	w.finish(ctx, ob.Seq)
	if action != nil {
		w.act(ctx, action)
	}
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
		if err := w.rn.platform.SetTyping(ctx, w.ref, true); err != nil {
			w.rn.log.Debug("typing indicator", "err", err)
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
		_ = w.rn.platform.SetTyping(ctx, w.ref, false)
	}
	return true
}

// act carries out a reply's action (F26–F30).
func (w *worker) act(ctx context.Context, a *botrelay.Action) {
	rn := w.rn
	switch a.Kind {
	case botrelay.ActionTransfer:
		skill := w.ref.SkillID
		if a.Skill != "" {
			id, ok := rn.skillID(ctx, a.Skill)
			if !ok {
				w.escalate(ctx, "pipes.messaging-handle-bot-action.transfer-skill-not-existing",
					fmt.Sprintf("skill %q does not exist (names are case-sensitive)", a.Skill), nil)
				return
			}
			skill = id
		}
		if err := rn.platform.Transfer(ctx, w.ref, skill, a.AgentID); err != nil {
			w.logError(ctx, "connector.messaging.transfer-to-skill", "transfer: "+err.Error(), nil)
			w.say(ctx, rn.bot.Settings.ErrorHandling.TransferFailureMessage, botrelay.AudienceAll)
			return
		}
		w.close(ctx)
	case botrelay.ActionClose:
		if err := rn.platform.Close(ctx, w.ref, a.WithoutPCS); err != nil {
			w.logError(ctx, "connector.messaging.end-conversation", "close: "+err.Error(), nil)
			return
		}
		if w.isSurvey() {
			w.surveyEnded(ctx, botrelay.SurveyCompleted, a.Payload, "")
		}
		w.close(ctx)
	case botrelay.ActionChangeTTR:
		if err := rn.platform.SetTTR(ctx, w.ref, a.TTR, a.TTRSeconds); err != nil {
			w.logError(ctx, "connector.messaging.change-ttr", "change TTR: "+err.Error(), nil)
		}
	case botrelay.ActionInvokeFunction:
		if code, msg := w.invoke(ctx, a); code != "" {
			// A failed invocation is logged; it escalates only when the
			// reply asked for that (failOnError, F30).
			w.logError(ctx, code, msg, nil)
			if a.FailOnError {
				w.escalate(ctx, code, msg, nil)
			}
		}
	}
}

// invoke runs the function an INVOKE_FUNCTION action names (F30) with the
// action's payload; it returns an error code and message when it failed.
func (w *worker) invoke(ctx context.Context, a *botrelay.Action) (code, msg string) {
	rn := w.rn
	src, ok := rn.bot.Settings.Functions[a.FunctionID]
	if !ok || rn.r.o.Scripts == nil {
		return "aivendor.faas.failed-faas-request", fmt.Sprintf("function %q is not defined for this bot", a.FunctionID)
	}
	payload := a.Payload
	if len(payload) == 0 {
		payload = json.RawMessage(`{}`)
	}
	input, _ := json.Marshal(map[string]any{"headers": []any{}, "payload": payload,
		"conversationId": w.ref.ID, "botId": rn.bot.ID})
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := rn.r.o.Scripts.RunScript(ictx, src, input); err != nil {
		return classify(err, "aivendor.faas.invoke-lambda"), "invoke function " + a.FunctionID + ": " + err.Error()
	}
	rn.log.Info("invoked function", "conversation_id", string(w.ref.ID), "function", a.FunctionID)
	return "", ""
}

// escalate runs the default escalation (F31): log, tell the consumer and the
// agent, transfer to the escalation skill, and say so if that fails.
func (w *worker) escalate(ctx context.Context, code, msg string, turn *botrelay.Turn) {
	rn := w.rn
	if w.isSurvey() {
		w.failSurvey(ctx, code, msg, turn)
		return
	}
	eh := rn.bot.Settings.ErrorHandling
	id := w.logError(ctx, code, msg, turn)
	w.errorHook(ctx, id, code)
	w.say(ctx, eh.MessageToConsumer, botrelay.AudienceAll)
	w.say(ctx, eh.MessageToAgent, botrelay.AudienceAgentsAndManagers)
	skill, ok := rn.skillID(ctx, eh.EscalationSkill)
	if eh.EscalationSkill == "" || !ok {
		w.logError(ctx, "connector.messaging.transfer-to-skill",
			fmt.Sprintf("escalation skill %q does not exist", eh.EscalationSkill), nil)
		w.say(ctx, eh.TransferFailureMessage, botrelay.AudienceAll)
		return
	}
	w.st.Escalations++
	if skill == w.ref.SkillID && w.st.Escalations > 3 {
		// F32: the escalation skill is the bot's own and the conversation
		// keeps coming back; stop the loop and leave it idle.
		w.logError(ctx, "connector.messaging.transfer-loop", "escalation loop stopped: the escalation skill is the conversation's skill", nil)
		_ = w.save(ctx)
		return
	}
	if err := rn.platform.Transfer(ctx, w.ref, skill, ""); err != nil {
		w.logError(ctx, "connector.messaging.transfer-to-skill", "escalation transfer: "+err.Error(), nil)
		w.say(ctx, eh.TransferFailureMessage, botrelay.AudienceAll)
		_ = w.save(ctx)
		return
	}
	w.close(ctx)
}

// say publishes a configured text, if any.
func (w *worker) say(ctx context.Context, text, audience string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	if _, err := w.rn.platform.Publish(ctx, w.ref, &botrelay.Message{Text: text, Audience: audience}); err != nil {
		w.rn.log.Warn("publish configured message", "conversation_id", string(w.ref.ID), "err", err)
	}
}

// logError records a conversation error (F37) and returns its id.
func (w *worker) logError(ctx context.Context, code, msg string, turn *botrelay.Turn) string {
	rn := w.rn
	msg = Redact(msg, rn.secrets)
	var details json.RawMessage
	if turn != nil {
		details, _ = json.Marshal(map[string]any{"turn": turn.Kind, "text": turn.Text})
	}
	e := &botrelay.BotError{ID: errorID(), BotID: rn.bot.ID, ConversationID: w.ref.ID, Code: botrelay.ErrorCodePrefix + code,
		Message: msg, Details: details, At: rn.r.o.Now()}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := rn.r.o.Store.AddBotError(sctx, e); err != nil {
		rn.log.Error("record conversation error", "err", err)
	}
	rn.log.Warn("conversation error", "conversation_id", string(w.ref.ID), "code", e.Code, "error_id", e.ID, "detail", msg)
	return e.ID
}

// close marks the conversation as no longer the bot's.
func (w *worker) close(ctx context.Context) {
	w.st.Open = false
	w.st.Outbox = nil
	_ = w.save(ctx)
}

// unassigned ends the bot's part in the conversation (F26, F28).
func (w *worker) unassigned(ctx context.Context, ev *botrelay.PlatformEvent) {
	w.buf = nil
	if w.st == nil {
		st, err := w.rn.r.o.Store.BotConversation(ctx, w.rn.bot.ID, w.ref.ID)
		if err != nil {
			return
		}
		w.st = st
	}
	if w.st.Open {
		w.close(ctx)
	}
	if w.isSurvey() {
		w.surveyEnded(ctx, botrelay.SurveyAbandoned, nil, "")
	}
	if e, ok := w.rn.vendor.(botrelay.Ender); ok {
		ectx, cancel := context.WithTimeout(ctx, w.rn.bot.Settings.Limits.VendorTimeout())
		defer cancel()
		if err := e.EndConversation(ectx, w.ref, w.st.VendorState); err != nil {
			w.rn.log.Debug("end vendor conversation", "err", err)
		}
	}
}

func (w *worker) save(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := w.rn.r.o.Store.SaveBotConversation(sctx, w.st); err != nil {
		w.rn.log.Error("save conversation state", "conversation_id", string(w.ref.ID), "err", err)
		return err
	}
	w.unsaved = 0
	return nil
}
