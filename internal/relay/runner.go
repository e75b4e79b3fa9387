package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
)

// runner is one started bot: its lifecycle (F1–F4) and its conversations.
type runner struct {
	r      *Relay
	bot    *botrelay.Bot
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	vendor            botrelay.VendorBot
	platform          botrelay.PlatformAdapter
	retriesInternally bool
	// timeoutCode is the vendor's code for a call that did not answer in
	// time (its VendorInfo.Errors.Timeout).
	timeoutCode string
	// secrets are the bot's secret values, blanked out of every error
	// message the relay records or logs (a vendor may echo them).
	secrets []string
	// histories bounds the history reads in flight: when a bot resumes
	// thousands of conversations at once, each asks for its history, and
	// unbounded they would time out on the platform side together.
	histories chan struct{}

	stateMu    sync.Mutex // serialises setState
	mu         sync.Mutex
	state      botrelay.BotState
	vendorDown bool  // Vendor Interruption (F4)
	vendorErr  error // why: the failed health check or live turn
	// liveFailures counts the live turns in a row that failed on the
	// vendor's side; downByLive is set when they caused vendorDown.
	liveFailures int
	downByLive   bool
	// draining is set while the workers finish their turns before the
	// platform session closes: no event is taken any more.
	draining    bool
	platformErr error
	connected   chan struct{} // closed at the first PlatformState(nil) of a session
	changed     chan struct{} // signalled on platform state changes
	skills      map[string]botrelay.SkillID
	convs       map[botrelay.ConversationID]*worker
	workers     sync.WaitGroup
	runCtx      context.Context
}

func newRunner(r *Relay, b *botrelay.Bot, cancel context.CancelFunc) *runner {
	return &runner{
		r: r, bot: b, cancel: cancel, done: make(chan struct{}),
		log:   r.o.Logger.With("bot_id", string(b.ID), "vendor", b.Vendor),
		state: botrelay.BotOffline,
		convs: map[botrelay.ConversationID]*worker{},

		histories: make(chan struct{}, maxHistoryReads),
	}
}

// maxHistoryReads is how many history reads one bot has in flight.
const maxHistoryReads = 16

// history reads a conversation's events after a sequence, at most
// maxHistoryReads at a time per bot.
func (rn *runner) history(ctx context.Context, ref botrelay.ConversationRef, after int64) ([]*botrelay.PlatformEvent, error) {
	select {
	case rn.histories <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-rn.histories }()
	return rn.platform.History(ctx, ref, after)
}

// waitStarted waits, at most d, until the bot is past STARTING (or ends).
func (rn *runner) waitStarted(ctx context.Context, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if s := rn.currentState(); s != botrelay.BotStarting && s != botrelay.BotOffline {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-rn.done:
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

func (rn *runner) currentState() botrelay.BotState {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.state
}

// setState records a state change (F1, F38); repeated states are not
// recorded twice. The event is stored before the new state shows, so whoever
// sees the state also finds its event in the history.
func (rn *runner) setState(s botrelay.BotState, code, msg string) {
	rn.stateMu.Lock()
	defer rn.stateMu.Unlock()
	if rn.currentState() == s {
		return
	}
	defer func() {
		rn.mu.Lock()
		rn.state = s
		rn.mu.Unlock()
	}()
	msg = Redact(msg, rn.secrets)
	ev := &botrelay.BotStateEvent{BotID: rn.bot.ID, State: s, Message: msg, At: rn.r.o.Now()}
	if code != "" {
		ev.Code = botrelay.ErrorCodePrefix + code
		ev.ErrorID = errorID()
	}
	// The history outlives the run context: record it even while stopping.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rn.r.o.Store.AddBotStateEvent(ctx, ev); err != nil {
		rn.log.Error("record bot state", "err", err)
	}
	rn.log.Info("bot state", "state", string(s), "code", ev.Code, "detail", msg)
}

// run is the bot's life until ctx ends (Stop or shutdown).
func (rn *runner) run(ctx context.Context) {
	if err := rn.r.o.Store.ClearBotStateEvents(ctx, rn.bot.ID); err != nil {
		rn.log.Warn("clear state history", "err", err)
	}
	for {
		rn.setState(botrelay.BotStarting, "", "starting")
		err := rn.session(ctx)
		if ctx.Err() != nil {
			rn.setState(botrelay.BotOffline, "", "stopped")
			return
		}
		var be *botrelay.Error
		code := "connector.service-interruption"
		if errors.As(err, &be) && be.Code == botrelay.EINVALID {
			code = "connector.configuration"
		}
		rn.setState(botrelay.BotServiceInterruption, code, err.Error())
		select {
		case <-ctx.Done():
			rn.setState(botrelay.BotOffline, "", "stopped")
			return
		case <-time.After(rn.bot.Settings.Limits.RestartInterval()):
		}
		// Reload the bot: an operator may have fixed its configuration.
		if b, err := rn.r.o.Store.Bot(ctx, rn.bot.ID); err == nil {
			rn.bot = b
		}
	}
}

// session is one start: build the vendor and platform clients, connect, and
// serve until ctx ends or the platform session fails for good.
func (rn *runner) session(ctx context.Context) error {
	if err := rn.build(ctx); err != nil {
		return err
	}
	defer rn.closeVendor()
	// The platform session is not ended by ctx itself: a stop first drains
	// the conversations (stopWorkers), which still publish and transfer
	// through it, and only then cancels it.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	rn.mu.Lock()
	rn.connected = make(chan struct{})
	rn.changed = make(chan struct{}, 1)
	rn.platformErr = nil
	rn.mu.Unlock()

	// The workers have a context of their own, cancelled only when the
	// drain is over.
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer wcancel()
	rn.mu.Lock()
	rn.runCtx, rn.draining = wctx, false
	rn.mu.Unlock()

	// F2: the vendor connection test runs before the bot takes conversations;
	// a failing vendor makes the bot start in Vendor Interruption (F4).
	rn.healthResult(rn.checkVendor(sctx))

	platformDone := make(chan error, 1)
	go func() { platformDone <- rn.platform.Run(sctx, (*inbound)(rn)) }()

	select {
	case <-rn.connected:
	case err := <-platformDone:
		rn.stopWorkers(0, wcancel)
		if err == nil {
			err = errors.New("the platform session ended")
		}
		return fmt.Errorf("log in to the platform: %w", err)
	case <-time.After(rn.r.o.ConnectTimeout):
		cancel()
		<-platformDone
		rn.stopWorkers(0, wcancel)
		return fmt.Errorf("log in to the platform: no session within %v: %v", rn.r.o.ConnectTimeout, rn.lastPlatformErr())
	case <-ctx.Done():
		rn.stopWorkers(rn.r.o.DrainTimeout, wcancel)
		cancel()
		<-platformDone
		return nil
	}
	skills, err := rn.platform.Skills(sctx)
	if err != nil {
		cancel()
		<-platformDone
		rn.stopWorkers(0, wcancel)
		return fmt.Errorf("list skills: %w", err)
	}
	rn.mu.Lock()
	rn.skills = skills
	rn.mu.Unlock()
	rn.publishState()

	health := time.NewTicker(rn.bot.Settings.Limits.HealthInterval())
	defer health.Stop()
	for {
		select {
		case <-ctx.Done():
			// A graceful stop: the turns in flight finish with their
			// actions while the platform session is still up.
			rn.stopWorkers(rn.r.o.DrainTimeout, wcancel)
			cancel()
			<-platformDone
			return nil
		case err := <-platformDone:
			rn.stopWorkers(0, wcancel)
			if err == nil {
				err = errors.New("the platform session ended")
			}
			return err
		case <-rn.changed:
			rn.publishState()
		case <-health.C:
			rn.healthResult(rn.checkVendor(sctx))
			rn.publishState()
		}
	}
}

// publishState derives the state from the platform session and the vendor.
func (rn *runner) publishState() {
	rn.mu.Lock()
	pErr, down, vendorErr := rn.platformErr, rn.vendorDown, rn.vendorErr
	rn.mu.Unlock()
	switch {
	case pErr != nil:
		rn.setState(botrelay.BotServiceInterruption, "connector.service-interruption", pErr.Error())
	case down:
		msg := "the vendor health check failed"
		if vendorErr != nil {
			msg = vendorErr.Error()
		}
		rn.setState(botrelay.BotVendorInterruption, classify(vendorErr, "aivendor.test-connection"), msg)
	default:
		rn.setState(botrelay.BotOnline, "", "online")
	}
}

// healthResult records the outcome of the vendor's health check (F4): a
// failure is Vendor Interruption; a pass ends it. A pass that ends an
// interruption live failures began leaves the bot one failure short of the
// threshold (half open): the next failed turn puts it back at once, a
// successful one clears the count.
func (rn *runner) healthResult(err error) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if err != nil {
		rn.vendorDown, rn.vendorErr, rn.downByLive = true, err, false
		return
	}
	if rn.vendorDown && rn.downByLive {
		rn.liveFailures = rn.bot.Settings.Limits.VendorFailures() - 1
	}
	rn.vendorDown, rn.vendorErr, rn.downByLive = false, nil, false
}

// vendorResult counts the live turns that failed on the vendor's side —
// unavailable, timed out, credentials refused (F4: "repeated vendor
// failures"). After Limits.VendorFailures() in a row the bot goes to Vendor
// Interruption; a successful turn resets the count and ends an
// interruption that live failures began. Replies the vendor gave but the
// bot cannot use are not the vendor's outage and count neither way.
func (rn *runner) vendorResult(err error) {
	vendorSide := errors.Is(err, botrelay.ErrVendorUnavailable) || errors.Is(err, botrelay.ErrVendorAuth)
	if err != nil && !vendorSide {
		return
	}
	rn.mu.Lock()
	changed := false
	if vendorSide {
		rn.liveFailures++
		if rn.liveFailures >= rn.bot.Settings.Limits.VendorFailures() && !rn.vendorDown {
			rn.vendorDown, rn.vendorErr, rn.downByLive, changed = true, err, true, true
		}
	} else {
		rn.liveFailures = 0
		if rn.vendorDown && rn.downByLive {
			rn.vendorDown, rn.vendorErr, rn.downByLive, changed = false, nil, false, true
		}
	}
	ch := rn.changed
	rn.mu.Unlock()
	if changed && ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (rn *runner) isVendorDown() bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.vendorDown
}

func (rn *runner) lastPlatformErr() error {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.platformErr == nil {
		return errors.New("no answer")
	}
	return rn.platformErr
}

// checkVendor runs the vendor's health check, if it has one, within the
// vendor timeout.
func (rn *runner) checkVendor(ctx context.Context) error {
	hc, ok := rn.vendor.(botrelay.HealthChecker)
	if !ok {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, rn.bot.Settings.Limits.VendorTimeout())
	defer cancel()
	return hc.CheckHealth(cctx)
}

// build makes the vendor client and the platform adapter from the stored
// configuration and secrets.
func (rn *runner) build(ctx context.Context) error {
	b := rn.bot
	conn, err := rn.r.o.Registry.Vendor(b.Vendor)
	if err != nil {
		return err
	}
	sec, err := OpenSecrets(rn.r.o.Box, b)
	if err != nil {
		return err
	}
	if err := CheckEndpoint(sec, conn.Info(), b); err != nil {
		return err
	}
	if err := CheckPlatform(sec, b); err != nil {
		return err
	}
	rn.secrets = sec.Values()
	cfg, err := mergeVendorConfig(b.Settings.Vendor, sec.Vendor)
	if err != nil {
		return err
	}
	// The connector tags its logger with vendor and bot_id itself; rn.log
	// has them already, so it gets the untagged one.
	vb, err := conn.NewBot(cfg, botrelay.BotEnv{BotID: b.ID, AccountID: b.AccountID, Logger: rn.r.o.Logger,
		HTTPClient: rn.r.o.HTTPClient, Now: rn.r.o.Now, Signer: rn.r.o.Signer,
		EscalationSkill: b.Settings.ErrorHandling.EscalationSkill})
	if err != nil {
		return err
	}
	if h := b.Settings.Hooks; h.PreHook != "" || h.PostHook != "" {
		if _, ok := vb.(botrelay.HookableBot); !ok {
			closeIfCloser(vb)
			return botrelay.Errorf(botrelay.EINVALID, "vendor %s does not support pre- and post-hooks", b.Vendor)
		}
	}
	user, err := rn.r.o.Store.User(ctx, b.UserID)
	if err != nil {
		closeIfCloser(vb)
		return fmt.Errorf("bot user: %w", err)
	}
	creds := sec.APIKey
	creds.Username = user.LoginName
	pa, err := rn.r.o.NewPlatform(b, user, creds)
	if err != nil {
		closeIfCloser(vb)
		return err
	}
	rn.vendor, rn.platform = vb, pa
	rn.retriesInternally = conn.Info().RetriesInternally
	rn.timeoutCode = conn.Info().Errors.Timeout
	if rn.timeoutCode == "" {
		rn.timeoutCode = "aivendor." + b.Vendor + ".send-query"
	}
	return nil
}

func (rn *runner) closeVendor() { closeIfCloser(rn.vendor) }

func closeIfCloser(v any) {
	if c, ok := v.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}

// mergeVendorConfig joins the non-secret settings and the secrets into the
// one JSON object the vendor connector reads.
func mergeVendorConfig(settings json.RawMessage, secrets map[string]any) (json.RawMessage, error) {
	m := map[string]any{}
	if len(settings) > 0 {
		if err := json.Unmarshal(settings, &m); err != nil {
			return nil, botrelay.Errorf(botrelay.EINVALID, "vendor settings must be a JSON object")
		}
	}
	maps.Copy(m, secrets)
	return json.Marshal(m)
}

// skillID resolves a skill name, refreshing the cache once on a miss (F26).
func (rn *runner) skillID(ctx context.Context, name string) (botrelay.SkillID, bool) {
	rn.mu.Lock()
	id, ok := rn.skills[name]
	rn.mu.Unlock()
	if ok {
		return id, true
	}
	skills, err := rn.platform.Skills(ctx)
	if err != nil {
		return 0, false
	}
	rn.mu.Lock()
	rn.skills = skills
	rn.mu.Unlock()
	id, ok = skills[name]
	return id, ok
}

// inbound is the runner seen as the platform's Inbound.
type inbound runner

// PlatformState implements botrelay.Inbound.
func (in *inbound) PlatformState(err error) {
	rn := (*runner)(in)
	rn.mu.Lock()
	rn.platformErr = err
	connected, changed := rn.connected, rn.changed
	rn.mu.Unlock()
	if err == nil && connected != nil {
		select {
		case <-connected:
		default:
			close(connected)
		}
	}
	if changed != nil {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
}

// HandleEvent implements botrelay.Inbound. It never blocks on the vendor:
// events go to the conversation's worker queue.
func (in *inbound) HandleEvent(ctx context.Context, ev *botrelay.PlatformEvent) {
	rn := (*runner)(in)
	switch ev.Kind {
	case botrelay.EventRing:
		// Bots accept what is routed to them (F33); limits apply once the
		// conversation is theirs, so that it can be escalated (F5).
		if rn.currentState() == botrelay.BotServiceInterruption || rn.isDraining() {
			return
		}
		go func() {
			actx, cancel := context.WithTimeout(rn.ctx(), 10*time.Second)
			defer cancel()
			if err := rn.platform.Accept(actx, ev.RingID); err != nil {
				rn.log.Warn("accept ring", "ring_id", ev.RingID, "err", err)
			}
		}()
	case botrelay.EventAssigned, botrelay.EventSurveyStarted, botrelay.EventConsumerMessage,
		botrelay.EventConsumerTyping, botrelay.EventUnassigned:
		rn.dispatch(ev, ev.Kind != botrelay.EventUnassigned)
	case botrelay.EventSynced:
		rn.reconcile(ctx)
	}
}

// reconcile lets go of the conversations stored as the bot's that the
// platform's new session did not list: a kill after a transfer or a close
// went through but before the relay saved it leaves such a state, which
// would otherwise count against the open-conversation cap (F5) forever.
// It runs on the platform's event queue, after the listed assignments were
// dispatched, and holds rn.mu while it writes, so no worker of those
// conversations starts meanwhile.
func (rn *runner) reconcile(ctx context.Context) {
	stored, err := rn.r.o.Store.OpenBotConversations(ctx, rn.bot.ID)
	if err != nil {
		rn.log.Warn("list open conversations", "err", err)
		return
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.draining {
		return
	}
	for _, st := range stored {
		if _, held := rn.convs[st.ConversationID]; held {
			continue
		}
		st.Open, st.Outbox = false, nil
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		if err := rn.r.o.Store.SaveBotConversation(sctx, st); err != nil {
			rn.log.Warn("let go of a conversation the platform no longer gives the bot", "conversation_id", string(st.ConversationID), "err", err)
		} else {
			rn.log.Info("let go of a conversation the platform no longer gives the bot", "conversation_id", string(st.ConversationID))
		}
		cancel()
	}
}

func (rn *runner) isDraining() bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.draining
}

func (rn *runner) ctx() context.Context {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.runCtx == nil {
		return context.Background()
	}
	return rn.runCtx
}

// dispatch queues ev on its conversation's worker, starting one when create
// is set. It holds rn.mu while it queues, and a worker leaves the map under
// rn.mu only with an empty queue, so no event lands on a worker that ended.
func (rn *runner) dispatch(ev *botrelay.PlatformEvent, create bool) {
	ref := ev.Conversation
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.draining {
		return // stopping: the platform's history has it after the restart
	}
	w := rn.convs[ref.ID]
	if w == nil {
		if !create || rn.runCtx == nil || rn.runCtx.Err() != nil {
			return
		}
		w = newWorker(rn, ref)
		rn.convs[ref.ID] = w
	}
	if !w.running {
		if rn.runCtx == nil || rn.runCtx.Err() != nil {
			return
		}
		w.running = true
		rn.workers.Add(1)
		ctx := rn.runCtx
		go func() {
			defer rn.workers.Done()
			w.run(ctx)
		}()
	}
	w.push(ev)
}

// park ends the goroutine of a worker with nothing to do: no event queued
// and no timer armed. The worker and its conversation's state stay in
// convs, and the next event starts a goroutine again (dispatch). An idle
// open conversation then costs no goroutine stack, which is most of what
// 10,000 of them cost. It reports whether the worker may end.
func (rn *runner) park(w *worker) bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if w.queued() > 0 || rn.convs[w.ref.ID] != w {
		return false
	}
	w.running = false
	return true
}

// retire removes a worker that is done with its conversation, unless events
// arrived meanwhile; it reports whether the worker may end.
func (rn *runner) retire(w *worker) bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if w.queued() > 0 {
		return false
	}
	if rn.convs[w.ref.ID] == w {
		delete(rn.convs, w.ref.ID)
	}
	return true
}

// stopWorkers ends every conversation worker. It drains first: no event is
// taken any more, and each worker ends once the event it is handling is
// finished, with its action, so that a graceful stop leaves no turn half
// done. After drain (0 when the platform session is gone already) the
// workers' context is cancelled: what is still running stops where it is,
// and its outbox is finished after the restart.
func (rn *runner) stopWorkers(drain time.Duration, cancelWork context.CancelFunc) {
	rn.mu.Lock()
	rn.draining = true
	for id, w := range rn.convs {
		if !w.running {
			delete(rn.convs, id) // parked: no goroutine to stop
			continue
		}
		w.stop()
	}
	rn.mu.Unlock()
	done := make(chan struct{})
	go func() {
		rn.workers.Wait()
		close(done)
	}()
	if drain > 0 {
		t := time.NewTimer(drain)
		select {
		case <-done:
		case <-t.C:
			rn.log.Warn("conversations still busy after the drain timeout; they finish after the restart", "drain", drain)
		}
		t.Stop()
	}
	cancelWork()
	<-done
}
