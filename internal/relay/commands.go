package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// Public API commands (spec F40, §5). The API stores each command as
// waiting; this file carries them out. A loop per relay (runCommands) reads
// the account's waiting commands from the store, every commandPoll or when
// woken (WakeCommands, by the API of this node), and hands each command of a
// bot that runs here to the worker of its conversation, behind the events
// queued before it: a conversation's commands and consumer turns run one at
// a time, in order. The store is the only channel, so a command taken by
// any node reaches the bot on whichever node it runs.
//
// A command is carried out at most once: the worker takes it in the store
// (TakeCommand) before it acts, and a command taken and then interrupted
// by a stop or a crash is not run again; it fails after staleCommandAge.
// Commands not taken within their time to live fail (the expiry sweep,
// which runs where Options.CommandSweepActive says).

// eventCommand is the worker-queue event of a command; its Raw is the
// command id as a JSON string.
const eventCommand botrelay.PlatformEventKind = "PUBLIC_API_COMMAND"

const (
	// defaultCommandPoll is Options.CommandPoll when it is zero.
	defaultCommandPoll = 250 * time.Millisecond
	// staleCommandAge is how long a command may stay taken and unfinished
	// before the sweep fails it: longer than any command runs (messages
	// with delays included).
	staleCommandAge = 10 * time.Minute
	// commandBatch bounds the waiting commands one poll reads.
	commandBatch = 1000
	// commandRehand is how long a handed command may stay untaken before
	// it is handed again.
	commandRehand = 5 * time.Second
	// commandSweep is how often the expiry sweep runs when no listed
	// command is past its ttl (it also fails stale taken commands).
	commandSweep = 30 * time.Second
)

// The error causes of failed commands (Appendix A names, prefixed).
const (
	causeConversationClosed = "connector.messaging.conversation-closed"
	causeNotAuthorized      = "connector.messaging.agent-not-authorized"
)

// commandQueue is the relay's record of the commands it handed to workers
// and not yet seen taken, so that a poll does not hand one over twice.
type commandQueue struct {
	once   sync.Once
	wake   chan struct{}
	mu     sync.Mutex
	handed map[string]handing
	// swept is when the last full expiry sweep ran.
	swept time.Time
}

// handing is a command handed to a runner's worker, and when.
type handing struct {
	rn *runner
	at time.Time
}

func (q *commandQueue) init() {
	q.once.Do(func() {
		q.wake = make(chan struct{}, 1)
		q.handed = map[string]handing{}
	})
}

// WakeCommands makes the relay look for waiting commands now rather than at
// its next poll; the API calls it after it stored a command. It never
// blocks.
func (r *Relay) WakeCommands() {
	r.cmds.init()
	select {
	case r.cmds.wake <- struct{}{}:
	default:
	}
}

// runCommands hands waiting commands to the workers until ctx ends.
func (r *Relay) runCommands(ctx context.Context, account botrelay.AccountID) {
	r.cmds.init()
	every := r.o.CommandPoll
	if every <= 0 {
		every = defaultCommandPoll
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.cmds.wake:
		}
		r.pollCommands(ctx, account)
	}
}

// pollCommands is one round: the hand-over of the waiting commands, and
// the expiry sweep when one of them is past its ttl or commandSweep has
// passed since the last (so that an idle system writes nothing).
func (r *Relay) pollCommands(ctx context.Context, account botrelay.AccountID) {
	now := r.o.Now()
	waiting, err := r.o.Store.WaitingCommands(ctx, account, commandBatch)
	if err != nil {
		if ctx.Err() == nil {
			r.o.Logger.Warn("list public api commands", "err", err)
		}
		return
	}
	expired := false
	listed := make(map[string]bool, len(waiting))
	for _, c := range waiting {
		listed[c.ID] = true
		if !c.TimeoutAt.After(now) {
			expired = true
			continue
		}
		r.mu.Lock()
		rn := r.runners[c.BotID]
		r.mu.Unlock()
		if rn == nil || !r.cmds.hand(c.ID, rn, now) {
			continue // the bot runs elsewhere, or not at all; or handed already
		}
		if !rn.command(ctx, c) {
			r.cmds.forget(c.ID)
		}
	}
	r.cmds.mu.Lock()
	for id := range r.cmds.handed {
		if !listed[id] { // taken or ended
			delete(r.cmds.handed, id)
		}
	}
	sweep := expired || now.Sub(r.cmds.swept) >= commandSweep
	if sweep {
		r.cmds.swept = now
	}
	r.cmds.mu.Unlock()
	if sweep && (r.o.CommandSweepActive == nil || r.o.CommandSweepActive()) {
		if _, err := r.o.Store.ExpireCommands(ctx, now, now.Add(-staleCommandAge), "",
			"the command was not carried out within its ttl"); err != nil && ctx.Err() == nil {
			r.o.Logger.Warn("expire public api commands", "err", err)
		}
	}
}

// hand records that the command goes to rn now; false when it went to rn
// less than commandRehand ago. A command still untaken after that is
// handed again: the worker may have dropped it (it stopped, or let the
// conversation go meanwhile); a second copy finds it taken and does
// nothing.
func (q *commandQueue) hand(id string, rn *runner, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if h, ok := q.handed[id]; ok && h.rn == rn && now.Sub(h.at) < commandRehand {
		return false
	}
	q.handed[id] = handing{rn: rn, at: now}
	return true
}

func (q *commandQueue) forget(id string) {
	q.mu.Lock()
	delete(q.handed, id)
	q.mu.Unlock()
}

// command hands c to the worker of its conversation; false when the bot
// cannot take it now (not connected yet, or draining). A command for a
// conversation the bot does not hold fails at once when the platform's
// record shows why (closed, or another agent's).
func (rn *runner) command(ctx context.Context, c *botrelay.Command) bool {
	rn.mu.Lock()
	w, draining, running := rn.convs[c.ConversationID], rn.draining, rn.runCtx != nil && rn.runCtx.Err() == nil
	rn.mu.Unlock()
	if draining || !running {
		return false
	}
	if w == nil {
		// rn.bot belongs to the runner's goroutine: read the bot's user
		// from the store.
		conv, err := rn.o.Store.Conversation(ctx, c.ConversationID)
		var b *botrelay.Bot
		if err == nil {
			b, err = rn.o.Store.Bot(ctx, c.BotID)
		}
		switch {
		case err != nil:
			return false
		case conv.State != botrelay.ConversationOpen:
			rn.failCommand(ctx, c, causeConversationClosed, "the conversation is closed")
			return true
		case conv.AssignedAgent() != b.UserID:
			rn.failCommand(ctx, c, causeNotAuthorized, "the bot no longer holds the conversation")
			return true
		}
		return false // the bot resumes it: the next poll finds its worker
	}
	id, _ := json.Marshal(c.ID)
	rn.dispatch(&botrelay.PlatformEvent{Kind: eventCommand, Conversation: botrelay.ConversationRef{ID: c.ConversationID},
		Raw: id}, false)
	return true
}

// failCommand ends a waiting command as failed, with a message of the
// relay's own (no vendor or platform text in it).
func (rn *runner) failCommand(ctx context.Context, c *botrelay.Command, cause, msg string) {
	rn.finishCommand(ctx, c, cause, msg)
}

// endCommand ends c in its worker: completed when cause and msg are empty,
// else failed, with the bot's secrets blanked out of msg (a platform or
// vendor error may echo them).
func (rn *runner) endCommand(ctx context.Context, c *botrelay.Command, cause, msg string) {
	rn.finishCommand(ctx, c, cause, Redact(msg, rn.secrets))
}

// finishCommand records the end of c.
func (rn *runner) finishCommand(ctx context.Context, c *botrelay.Command, cause, msg string) {
	c.State, c.ErrorCause, c.ErrorMessage, c.EndedAt = botrelay.CommandCompleted, "", "", rn.o.Now()
	if cause != "" || msg != "" {
		c.State, c.ErrorMessage = botrelay.CommandFailed, msg
		if cause != "" {
			c.ErrorCause = botrelay.ErrorCodePrefix + cause
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if _, err := rn.o.Store.FinishCommand(sctx, c); err != nil {
		rn.log.Error("finish public api command", "command_id", c.ID, "err", err)
		return
	}
	rn.log.Info("public api command", "command_id", c.ID, "conversation_id", string(c.ConversationID),
		"type", string(c.Type), "state", string(c.State), "cause", c.ErrorCause)
}

// command carries out the command of ev in the conversation's worker. It
// takes the command first: one taken already, or past its time to live,
// is left alone.
func (w *worker) command(ctx context.Context, ev *botrelay.PlatformEvent) {
	rn := w.rn
	var id string
	if json.Unmarshal(ev.Raw, &id) != nil {
		return
	}
	c, err := w.store.Command(ctx, id)
	if err != nil {
		w.log.Warn("read public api command", "command_id", id, "err", err)
		return
	}
	// The assignment that made the worker came before the command, so a
	// worker without a state is one that let the conversation go.
	if w.st == nil || !w.st.Open {
		rn.failCommand(ctx, c, causeNotAuthorized, "the bot no longer holds the conversation")
		return
	}
	if ok, err := w.store.TakeCommand(ctx, id, rn.o.Now()); err != nil || !ok {
		return
	}
	cause, msg := w.runCommand(ctx, c)
	if ctx.Err() != nil && cause == "" && msg == "" {
		return // stopped half way: the sweep fails it later
	}
	rn.endCommand(ctx, c, cause, msg)
}

// runCommand does what c says; it returns a cause and message when it
// failed.
func (w *worker) runCommand(ctx context.Context, c *botrelay.Command) (cause, msg string) {
	switch c.Type {
	case botrelay.CommandMessages:
		return w.commandMessages(ctx, c)
	case botrelay.CommandTransfer:
		return w.commandTransfer(ctx, c)
	case botrelay.CommandClose:
		if err := w.platform.Close(ctx, w.ref, false); err != nil {
			return codeEndConversation, "close: " + err.Error()
		}
		w.letGo(ctx, 0)
	case botrelay.CommandTTR:
		var p botrelay.TTRPayload
		_ = json.Unmarshal(c.Payload, &p)
		if err := w.platform.SetTTR(ctx, w.ref, p.TTRType, 0); err != nil {
			return codeChangeTTR, "change TTR: " + err.Error()
		}
	case botrelay.CommandSDEs:
		w.commandedSDEs(ctx)
		return w.commandSDEs(ctx, c)
	default:
		return "", fmt.Sprintf("unknown command type %q", c.Type)
	}
	return "", ""
}

// commandMessages publishes the command's messages in order, with their
// delays (F17–F23). Each message carries a marker of its own ("p<id>"), so
// the history tells it from the bot's replies.
func (w *worker) commandMessages(ctx context.Context, c *botrelay.Command) (cause, msg string) {
	var p botrelay.MessagesPayload
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return "", "the command's messages cannot be read"
	}
	key := "p" + c.ID
	for i, m := range p.Messages {
		if m.Type == "delay" {
			if !w.pause(ctx, &botrelay.Delay{Duration: time.Duration(m.Delay * float64(time.Second)), Typing: m.Typing}) {
				return "", "stopped"
			}
			continue
		}
		out := &botrelay.Message{Metadata: m.Metadata, EncodedMetadata: m.EncodedMetadata, Audience: m.MessageAudience,
			QuickReplies: m.QuickReplies}
		if m.Type == "structuredContent" {
			out.StructuredContent = m.Payload
		} else if json.Unmarshal(m.Payload, &out.Text) != nil {
			return "", fmt.Sprintf("message %d has no text", i)
		}
		if _, err := w.platform.Publish(ctx, w.ref, withMarker(out, marker(key, i))); err != nil {
			return codeSendMessage, fmt.Sprintf("publish message %d: %v", i, err)
		}
		if strings.TrimSpace(out.Text) != "" && out.Audience != botrelay.AudienceAgentsAndManagers {
			w.lastText = out.Text
		}
	}
	return "", ""
}

// commandTransfer transfers the conversation to a skill, or to an agent on
// it (F26, F27), and lets it go.
func (w *worker) commandTransfer(ctx context.Context, c *botrelay.Command) (cause, msg string) {
	var p botrelay.TransferPayload
	_ = json.Unmarshal(c.Payload, &p)
	skill, ok := w.rn.skillID(ctx, p.Skill)
	if !ok {
		return codeTransferSkillNotExisting, fmt.Sprintf("skill %q does not exist (names are case-sensitive)", p.Skill)
	}
	if err := w.platform.Transfer(ctx, w.ref, skill, p.AgentID); err != nil {
		return codeTransferToSkill, "transfer: " + err.Error()
	}
	w.letGo(ctx, 0)
	return "", ""
}

// commandSDEs stores the engagement attributes on the conversation and
// merges them into those the vendor gets from now on (F13, F14).
func (w *worker) commandSDEs(ctx context.Context, c *botrelay.Command) (cause, msg string) {
	var p botrelay.SDEsPayload
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return "", "the command's engagement attributes cannot be read"
	}
	entries := ums.ProfileFromSDEs(w.sdes)
	var added []map[string]any
	if err := json.Unmarshal(p.SDEs, &added); err != nil {
		return "", "the command's engagement attributes cannot be read"
	}
	for _, e := range added {
		if _, ok := e["auth"]; !ok {
			e["auth"] = false
		}
	}
	all, _ := json.Marshal(append(entries, added...))
	merged, err := ums.SDEsFromProfile(all)
	if err != nil {
		return "", "the command's engagement attributes cannot be read"
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := w.store.SetEngagementAttributes(sctx, w.ref.ID, merged, w.rn.o.Now()); err != nil {
		return "", "store the engagement attributes: " + err.Error()
	}
	w.sdes = merged
	return "", ""
}

// commandedSDEs takes, after an assignment and before the first turn or
// command, the engagement attributes a Public API command set on the
// conversation earlier (stored merged with what the bot had collected
// then), so a restarted bot, or the next bot the conversation goes to,
// hands them to its vendor too. One read per assignment that comes to a
// turn.
func (w *worker) commandedSDEs(ctx context.Context) {
	if !w.sdesPending {
		return
	}
	w.sdesPending = false
	set, _, err := w.store.EngagementAttributes(ctx, w.ref.ID)
	if err != nil {
		if botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
			w.log.Warn("read engagement attributes", "conversation_id", string(w.ref.ID), "err", err)
		}
		return
	}
	w.sdes = set
}
