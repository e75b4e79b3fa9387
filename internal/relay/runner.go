package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/sealed"
)

// runner is one started bot: its lifecycle (F1–F4) and its conversations.
//
// Its concerns live in files of their own: this file starts, runs and
// restarts the bot's sessions and records its state; health.go tracks the
// vendor's health and Vendor Interruption; inbound.go takes the platform's
// events and dispatches them to the conversations' workers (worker.go);
// codes.go names the error codes and the tunable numbers.
type runner struct {
	r   *Relay
	o   *Options // the relay's options: store, registry, clock…
	bot *botrelay.Bot
	// base carries the bot's fence token in a cluster (internal/fence) and
	// nothing else; every context of the runner's store writes derives
	// from it.
	base   context.Context
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	vendor            botrelay.VendorBot
	fallback          *vendorClient // settings.routing.fallback, or nil (fallback.go)
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
	// handBack is set by the operator's stop (Relay.Stop): the bot hands
	// its open conversations back (handback.go).
	handBack atomic.Bool
	// prefetched holds the open conversations' states read when the
	// session started, until their workers take them (prefetch.go);
	// guarded by mu.
	prefetched map[botrelay.ConversationID]*botrelay.BotConversation
	// held maps the conversations the platform assigned to the bot that
	// have no stored state yet to what a hand-back needs of them, also
	// those no worker took yet (handback.go).
	heldMu sync.Mutex
	held   map[botrelay.ConversationID]heldRef
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
		r: r, o: &r.o, bot: b, cancel: cancel, done: make(chan struct{}), base: context.Background(),
		log:   r.o.Logger.With("bot_id", string(b.ID), "vendor", b.Vendor),
		state: botrelay.BotOffline,
		convs: map[botrelay.ConversationID]*worker{},

		histories: make(chan struct{}, maxHistoryReads),
	}
}

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

// loadState reads the bot's stored state of a conversation at its
// assignment, at most maxStateLoads at a time on the node.
func (rn *runner) loadState(ctx context.Context, store botrelay.Store, id botrelay.ConversationID) (*botrelay.BotConversation, error) {
	select {
	case rn.r.stateLoads <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-rn.r.stateLoads }()
	return store.BotConversation(ctx, rn.bot.ID, id)
}

// waitStarted waits, at most d, until the bot is past STARTING (or ends).
func (rn *runner) waitStarted(ctx context.Context, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(startPollInterval)
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
	ev := &botrelay.BotStateEvent{BotID: rn.bot.ID, State: s, Message: msg, At: rn.o.Now()}
	if code != "" {
		ev.Code = botrelay.ErrorCodePrefix + code
		ev.ErrorID = errorID()
	}
	// The history outlives the run context: record it even while stopping.
	ctx, cancel := context.WithTimeout(rn.base, recordTimeout)
	defer cancel()
	if err := rn.o.Store.AddBotStateEvent(ctx, ev); err != nil {
		rn.log.Error("record bot state", "err", err)
	}
	if st := rn.stats(); st != nil {
		st.StateChanged(rn.bot, s, ev.At)
	}
	rn.emitState(ev)
	rn.log.Info("bot state", "state", string(s), "code", ev.Code, "detail", msg)
}

// run is the bot's life until ctx ends (Stop or shutdown).
func (rn *runner) run(ctx context.Context) {
	if err := rn.o.Store.ClearBotStateEvents(ctx, rn.bot.ID); err != nil {
		rn.log.Warn("clear state history", "err", err)
	}
	go rn.watchInterruption(ctx, rn.bot) // hand-back after a long Service Interruption
	for {
		rn.setState(botrelay.BotStarting, "", "starting")
		err := rn.session(ctx)
		if ctx.Err() != nil {
			rn.setState(botrelay.BotOffline, "", "stopped")
			return
		}
		var be *botrelay.Error
		code := codeServiceInterruption
		if errors.As(err, &be) && be.Code == botrelay.EINVALID {
			code = codeConfiguration
		}
		rn.setState(botrelay.BotServiceInterruption, code, err.Error())
		select {
		case <-ctx.Done():
			rn.setState(botrelay.BotOffline, "", "stopped")
			return
		case <-time.After(rn.bot.Settings.Limits.RestartInterval()):
		}
		// Reload the bot: an operator may have fixed its configuration.
		if b, err := rn.o.Store.Bot(ctx, rn.bot.ID); err == nil {
			rn.bot = b
		}
	}
}

// resetSession clears what the previous session left: the connection
// signals, the platform error and the drain flag; wctx becomes the workers'
// context.
func (rn *runner) resetSession(wctx context.Context) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rn.connected = make(chan struct{})
	rn.changed = make(chan struct{}, 1)
	rn.platformErr = nil
	rn.runCtx, rn.draining = wctx, false
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
	// The workers have a context of their own, cancelled only when the
	// drain is over.
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer wcancel()
	rn.resetSession(wctx)

	// F2: the vendor connection test runs before the bot takes conversations;
	// a failing vendor makes the bot start in Vendor Interruption (F4).
	rn.healthResult(rn.checkVendor(sctx))

	// The bots of the embedded hub take turns to connect (maxStarting at
	// once): a node restarted with hundreds of bots and a million
	// conversations had every bot log in and receive its listing at the
	// same time, none within its timeouts. Bots on a LivePerson account
	// load LivePerson, not this node, and one that cannot reach it must
	// not hold up the others for its connect timeout.
	started := rn.bot.Settings.Platform.Account != ""
	if !started {
		select {
		case rn.r.starting <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
	}
	release := func() {
		if !started {
			started = true
			<-rn.r.starting
		}
	}
	defer release()
	rn.prefetch(sctx) // before the platform lists the conversations
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
	case <-time.After(rn.o.ConnectTimeout):
		cancel()
		<-platformDone
		rn.stopWorkers(0, wcancel)
		return fmt.Errorf("log in to the platform: no session within %v: %v", rn.o.ConnectTimeout, rn.lastPlatformErr())
	case <-ctx.Done():
		rn.stopWorkers(rn.o.DrainTimeout, wcancel)
		cancel()
		<-platformDone
		return nil
	}
	release()
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
	return rn.serve(ctx, sctx, cancel, wcancel, platformDone)
}

// serve runs a connected session: it publishes state changes and runs the
// vendor health check until ctx ends (a drain, then nil) or the platform
// session ends (its error).
func (rn *runner) serve(ctx, sctx context.Context, cancel, wcancel context.CancelFunc, platformDone <-chan error) error {
	health := time.NewTicker(rn.bot.Settings.Limits.HealthInterval())
	defer health.Stop()
	for {
		select {
		case <-ctx.Done():
			// A graceful stop: the turns in flight finish with their
			// actions while the platform session is still up.
			rn.awayForHandBack(sctx)
			rn.stopWorkers(rn.o.DrainTimeout, wcancel)
			rn.handBackAll(sctx)
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

// build makes the vendor client and the platform adapter from the stored
// configuration and secrets.
func (rn *runner) build(ctx context.Context) error {
	b := rn.bot
	conn, err := rn.o.Registry.Vendor(b.Vendor)
	if err != nil {
		return err
	}
	sec, err := sealed.Open(rn.o.Box, b)
	if err != nil {
		return err
	}
	if err := sealed.CheckEndpoint(sec, conn.Info(), b); err != nil {
		return err
	}
	if err := sealed.CheckPlatform(sec, b); err != nil {
		return err
	}
	rn.secrets = sec.Values()
	cfg, err := mergeVendorConfig(b.Settings.Vendor, sec.Vendor)
	if err != nil {
		return err
	}
	// The connector tags its logger with vendor and bot_id itself; rn.log
	// has them already, so it gets the untagged one.
	vb, err := conn.NewBot(cfg, botrelay.BotEnv{BotID: b.ID, AccountID: b.AccountID, Logger: rn.o.Logger,
		HTTPClient: rn.o.HTTPClient, Now: rn.o.Now, Signer: rn.o.Signer,
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
	user, err := rn.o.Store.User(ctx, b.UserID)
	if err != nil {
		closeIfCloser(vb)
		return fmt.Errorf("bot user: %w", err)
	}
	creds := sec.APIKey
	creds.Username = user.LoginName
	pa, err := rn.o.NewPlatform(b, user, creds)
	if err != nil {
		closeIfCloser(vb)
		return err
	}
	rn.vendor, rn.platform = vb, pa
	rn.buildFallback(ctx, sec)
	rn.retriesInternally = conn.Info().RetriesInternally
	rn.timeoutCode = conn.Info().Errors.Timeout
	if rn.timeoutCode == "" {
		rn.timeoutCode = sendQueryCode(b.Vendor)
	}
	return nil
}

func (rn *runner) closeVendor() {
	closeIfCloser(rn.vendor)
	if rn.fallback != nil {
		closeIfCloser(rn.fallback.bot)
	}
}

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
