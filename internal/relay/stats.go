package relay

import (
	"time"

	"github.com/botrelay/botrelay"
)

// ConversationEvent is what happened to a conversation the bot held, for
// the per-bot figures.
type ConversationEvent string

// The conversation events a StatsObserver is told about.
const (
	// ConversationHandled: the bot took a conversation (a fresh assignment,
	// not a resume after a restart), escalated at once or not.
	ConversationHandled ConversationEvent = "handled"
	// ConversationTransferred: the bot's own transfer action (F26) went
	// through; error escalations are told through Observer.Escalated.
	ConversationTransferred ConversationEvent = "transferred"
	// ConversationClosed: the conversation closed while the bot held it,
	// by the bot's close action (F27) or by the consumer.
	ConversationClosed ConversationEvent = "closed"
)

// StatsObserver is an Observer that is also told about the conversations
// the bots take and let go, the errors they log and their state changes,
// for the per-bot figures over time. The relay finds it by a type
// assertion on Options.Observer. Its methods run on the bots' goroutines
// and must not block.
type StatsObserver interface {
	Observer
	// Conversation is one conversation event of the bot.
	Conversation(bot *botrelay.Bot, ev ConversationEvent)
	// ErrorLogged is one entry of the bot's conversation error log (F37),
	// with its code as the log shows it (botrelay.ErrorCodePrefix first).
	ErrorLogged(bot *botrelay.Bot, code string)
	// StateChanged is the bot's state from at on (F1).
	StateChanged(bot *botrelay.Bot, s botrelay.BotState, at time.Time)
}

// stats returns the relay's StatsObserver, or nil.
func (rn *runner) stats() StatsObserver {
	s, _ := rn.o.Observer.(StatsObserver)
	return s
}

// countConversation tells the StatsObserver, if any, about ev.
func (rn *runner) countConversation(ev ConversationEvent) {
	if s := rn.stats(); s != nil {
		s.Conversation(rn.bot, ev)
	}
}

// Observers returns an Observer that tells each of obs, in order; it is a
// StatsObserver and passes the StatsObserver calls to those that are.
func Observers(obs ...Observer) StatsObserver { return tee(obs) }

type tee []Observer

func (t tee) VendorCall(bot *botrelay.Bot, d time.Duration, err error) {
	for _, o := range t {
		o.VendorCall(bot, d, err)
	}
}

func (t tee) Escalated(bot *botrelay.Bot, code string) {
	for _, o := range t {
		o.Escalated(bot, code)
	}
}

func (t tee) Conversation(bot *botrelay.Bot, ev ConversationEvent) {
	for _, o := range t {
		if s, ok := o.(StatsObserver); ok {
			s.Conversation(bot, ev)
		}
	}
}

func (t tee) ErrorLogged(bot *botrelay.Bot, code string) {
	for _, o := range t {
		if s, ok := o.(StatsObserver); ok {
			s.ErrorLogged(bot, code)
		}
	}
}

func (t tee) StateChanged(bot *botrelay.Bot, s botrelay.BotState, at time.Time) {
	for _, o := range t {
		if so, ok := o.(StatsObserver); ok {
			so.StateChanged(bot, s, at)
		}
	}
}
