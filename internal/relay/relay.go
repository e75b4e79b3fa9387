// Package relay runs bots: for each started bot a runner logs the bot user
// in to its platform, takes the conversations routed to it, sends consumer
// turns to the vendor in order, carries out the replies and actions, and
// escalates on every kind of failure (spec F1–F46).
//
// The relay owns ordering (one worker per conversation), persistence (the
// per-conversation state in the store), timeouts, retries and escalation.
// Vendor connectors only translate; platform adapters only speak their
// protocol.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/fence"
	"github.com/botrelay/botrelay/internal/sealed"
)

// PlatformFactory makes the platform adapter for a bot: the embedded hub
// unless the bot's settings name a LivePerson account.
type PlatformFactory func(b *botrelay.Bot, user *botrelay.User, creds sealed.Credentials) (botrelay.PlatformAdapter, error)

// Options configure a Relay.
type Options struct {
	Store       botrelay.Store
	Registry    *botrelay.Registry
	Box         sealed.Sealer
	NewPlatform PlatformFactory
	Logger      *slog.Logger
	HTTPClient  *http.Client
	Signer      botrelay.TokenSigner
	// Scripts runs the functions replies invoke (F30); nil refuses them.
	Scripts botrelay.ScriptRunner
	Now     func() time.Time
	// ConnectTimeout bounds the wait for the platform session at start.
	// Default: 30s.
	ConnectTimeout time.Duration
	// DrainTimeout bounds how long a stopping bot lets its conversations
	// finish the turn in hand (with its action) before it closes its
	// platform session; what is left finishes after the restart.
	// Default: 10s.
	DrainTimeout time.Duration
	// Observer is told about turns and escalations, for metrics; nil for
	// none.
	Observer Observer
	// Placement places the bots in a cluster (placed.go); nil on a single
	// node, where Run starts every started bot.
	Placement Placement
	// CommandPoll is how often the relay looks for waiting Public API
	// commands (commands.go). Default: 250ms.
	CommandPoll time.Duration
	// CommandSweepActive says whether this node fails expired Public API
	// commands; nil: always (one node is enough in a cluster).
	CommandSweepActive func() bool
	// Events is told about escalations, finished surveys and bot state
	// changes (events.go); nil for none.
	Events botrelay.EventSink
	// HandBack hands back the conversations of a bot on the embedded hub
	// that stays in Service Interruption (handback.go); nil never does.
	HandBack botrelay.HandBacker
	// SweepActive reports whether this node runs the once-only work of
	// stand-ins: the start's hand-back of what stopped bots still hold
	// (handback.go). nil: always.
	SweepActive func() bool
}

// Observer receives what the bots do, for metrics. Its methods run on the
// bots' goroutines and must not block.
type Observer interface {
	// VendorCall is one turn sent to the vendor (retries within the
	// vendor timeout included) and how long it took; err is its failure.
	VendorCall(bot *botrelay.Bot, d time.Duration, err error)
	// Escalated is an escalation (F31) with its error-log code.
	Escalated(bot *botrelay.Bot, code string)
}

// Relay runs the started bots of one account.
type Relay struct {
	o       Options
	mu      sync.Mutex
	runners map[botrelay.BotID]*runner
	ctx     context.Context // the Run context; agent bots live in it
	// surveyCtx is the survey bots' context: it ends after every agent bot
	// stopped (see Run).
	surveyCtx context.Context
	wg        sync.WaitGroup // every runner
	agents    sync.WaitGroup // the agent bots' runners
	ready     chan struct{}
	cmds      commandQueue // Public API commands handed to workers
	// stateLoads bounds the conversation-state reads of all bots
	// (maxStateLoads).
	stateLoads chan struct{}
	// starting bounds the bots connecting at once (maxStarting).
	starting chan struct{}
}

// New returns a relay; it starts nothing until Run.
func New(o Options) *Relay {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = defaultDrainTimeout
	}
	return &Relay{o: o, runners: map[botrelay.BotID]*runner{}, ready: make(chan struct{}),
		stateLoads: make(chan struct{}, maxStateLoads), starting: make(chan struct{}, maxStarting)}
}

// Ready is closed once Run has started, so Start may be called.
func (r *Relay) Ready() <-chan struct{} { return r.ready }

// Run starts every bot the operator left started and blocks until ctx ends;
// then it stops all bots (their conversations stay open on the platform and
// resume on the next start).
func (r *Relay) Run(ctx context.Context, account botrelay.AccountID) error {
	// Survey bots serve the surveys agent bots open when they close a
	// conversation (F41), and the hub opens a survey only while a survey
	// bot of the skill is logged in. So survey bots start first and stop
	// last: an agent bot that resumes after a restart, or drains on a stop,
	// closes its conversations into their surveys.
	surveyCtx, stopSurveys := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSurveys()
	r.mu.Lock()
	r.ctx, r.surveyCtx = ctx, surveyCtx
	r.mu.Unlock()
	close(r.ready)
	go r.runCommands(ctx, account)
	if r.o.Placement != nil {
		// The cluster launches this node's bots (Launch).
		<-ctx.Done()
		r.agents.Wait()
		stopSurveys()
		r.wg.Wait()
		return nil
	}
	bots, err := r.o.Store.Bots(ctx, account)
	if err != nil {
		return fmt.Errorf("relay: list bots: %w", err)
	}
	var surveys []*runner
	for _, first := range []bool{true, false} {
		for _, b := range bots {
			if !b.Started || (b.Type == botrelay.BotSurvey) != first {
				continue
			}
			if err := r.launch(b); err != nil {
				r.o.Logger.Error("start bot", "bot_id", string(b.ID), "err", err)
				continue
			}
			if first {
				r.mu.Lock()
				surveys = append(surveys, r.runners[b.ID])
				r.mu.Unlock()
			}
		}
		for _, rn := range surveys {
			rn.waitStarted(ctx, r.o.ConnectTimeout)
		}
		surveys = nil
	}
	go r.sweepStopped(ctx, bots) // conversations stopped bots still hold (handback.go)
	<-ctx.Done()
	r.agents.Wait()
	stopSurveys()
	r.wg.Wait()
	return nil
}

// Start marks the bot started and runs it. ECONFLICT when it runs already.
func (r *Relay) Start(ctx context.Context, id botrelay.BotID) error {
	b, err := r.o.Store.Bot(ctx, id)
	if err != nil {
		return err
	}
	r.mu.Lock()
	_, running := r.runners[id]
	r.mu.Unlock()
	if running {
		return botrelay.Errorf(botrelay.ECONFLICT, "bot %s is already started", id)
	}
	if err := r.preflight(ctx, b); err != nil {
		return err
	}
	if err := r.o.Store.SetBotStarted(ctx, id, true); err != nil {
		return err
	}
	b.Started = true
	if r.o.Placement != nil {
		r.o.Placement.Kick()
		return nil
	}
	if err := r.launch(b); err != nil && botrelay.ErrorCode(err) != botrelay.ECONFLICT {
		return err
	}
	// ECONFLICT here: Run, listing the started bots as it began, launched
	// it meanwhile. It runs, which is what was asked.
	return nil
}

// preflight refuses an operator's start that could never work: a bot user
// without messaging slots is never offered a conversation, and a vendor
// with a strict start (VendorInfo.StrictStart) must pass its connection
// test. The bot stays Offline and the error says why.
func (r *Relay) preflight(ctx context.Context, b *botrelay.Bot) error {
	u, err := r.o.Store.User(ctx, b.UserID)
	if err != nil {
		return fmt.Errorf("bot user: %w", err)
	}
	if u.MessagingSlots == 0 {
		return botrelay.Errorf(botrelay.ECONFLICT, "bot user %q has 0 messaging slots, so it would never be offered a conversation; "+
			"give it slots first (botrelay users update %d --messaging-slots N)", u.LoginName, u.ID)
	}
	conn, err := r.o.Registry.Vendor(b.Vendor)
	if err != nil {
		return err
	}
	if !conn.Info().StrictStart {
		return nil
	}
	rn := newRunner(r, b, func() {})
	if err := rn.build(ctx); err != nil {
		return err
	}
	defer rn.closeVendor()
	if err := rn.checkVendor(ctx); err != nil {
		return botrelay.Errorf(botrelay.ECONFLICT, "the vendor's connection test failed, so the bot was not started: %s", Redact(err.Error(), rn.secrets))
	}
	return nil
}

// Stop is the operator's stop: the bot hands its open conversations back
// to their skill (handback.go) and Relay waits for it to go Offline.
func (r *Relay) Stop(ctx context.Context, id botrelay.BotID) error {
	return r.stop(ctx, id, true)
}

// StopKeeping stops the bot as a shutdown of botrelay does: its
// conversations stay its own and resume when it starts again.
func (r *Relay) StopKeeping(ctx context.Context, id botrelay.BotID) error {
	return r.stop(ctx, id, false)
}

func (r *Relay) stop(ctx context.Context, id botrelay.BotID, handBack bool) error {
	if err := r.o.Store.SetBotStarted(ctx, id, false); err != nil {
		return err
	}
	r.mu.Lock()
	rn := r.runners[id]
	r.mu.Unlock()
	if rn == nil {
		if r.o.Placement != nil {
			return r.stopPlaced(ctx, id)
		}
		return nil
	}
	rn.handBack.Store(handBack)
	rn.cancel()
	if r.o.Placement != nil {
		defer r.o.Placement.Kick()
	}
	select {
	case <-rn.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// State returns the bot's current state (Offline when not running).
func (r *Relay) State(id botrelay.BotID) botrelay.BotState {
	r.mu.Lock()
	rn := r.runners[id]
	r.mu.Unlock()
	if rn == nil {
		if r.o.Placement != nil {
			ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
			defer cancel()
			return r.o.Placement.State(ctx, id)
		}
		return botrelay.BotOffline
	}
	return rn.currentState()
}

func (r *Relay) launch(b *botrelay.Bot) error { return r.launchWith(b, nil) }

// launchWith starts b's runner; t, when set, fences its store writes.
func (r *Relay) launchWith(b *botrelay.Bot, t *fence.Token) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil {
		return botrelay.Errorf(botrelay.EUNAVAILABLE, "the connector is not running")
	}
	if _, ok := r.runners[b.ID]; ok {
		return botrelay.Errorf(botrelay.ECONFLICT, "bot %s is already started", b.ID)
	}
	parent, group := r.ctx, &r.agents
	if b.Type == botrelay.BotSurvey {
		parent, group = r.surveyCtx, nil
	}
	if t != nil {
		parent = fence.With(parent, *t)
	}
	ctx, cancel := context.WithCancel(parent)
	rn := newRunner(r, b, cancel)
	if t != nil {
		rn.base = fence.With(context.Background(), *t)
	}
	r.runners[b.ID] = rn
	r.wg.Add(1)
	if group != nil {
		group.Add(1)
	}
	go func() {
		defer r.wg.Done()
		if group != nil {
			defer group.Done()
		}
		rn.run(ctx)
		r.mu.Lock()
		delete(r.runners, b.ID)
		r.mu.Unlock()
		close(rn.done)
	}()
	return nil
}

// errorID makes the unique id shown with an error (F1, F37).
func errorID() string {
	var b [8]byte
	if _, err := randRead(b[:]); err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%x", b)
}

// classify returns the error-log code of err (without the prefix).
func classify(err error, fallback string) string {
	var ve *botrelay.VendorError
	if errors.As(err, &ve) && ve.Code != "" {
		return ve.Code
	}
	return fallback
}
