package relay

import (
	"context"
	"time"

	"github.com/botrelay/botrelay"
)

// Chat's inactivity timers (F34): after warningAfterSeconds without a
// consumer line the warning message is sent, after closeAfterSeconds the
// close message and the chat ends. Consumer lines and assignments restart
// both.

// resetInactivity restarts the chat inactivity timers after consumer
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

// stopTimers stops every timer of the worker when its goroutine ends.
func (w *worker) stopTimers() {
	for _, t := range []*time.Timer{w.timer, w.warnTimer, w.closeTimer, w.retryTimer} {
		if t != nil {
			t.Stop()
		}
	}
}

// inactiveWarning sends the warning message of an inactive chat.
func (w *worker) inactiveWarning(ctx context.Context) {
	if w.st != nil && w.st.Open {
		w.say(ctx, w.rn.bot.Settings.Chat.WarningMessage, botrelay.AudienceAll)
	}
}

// inactiveClose sends the close message and ends the chat; it reports
// whether the bot let the conversation go.
func (w *worker) inactiveClose(ctx context.Context) bool {
	w.say(ctx, w.rn.bot.Settings.Chat.CloseMessage, botrelay.AudienceAll)
	if err := w.platform.Close(ctx, w.ref, true); err != nil {
		w.logError(ctx, codeChatEndConversation, "close an inactive chat: "+err.Error(), nil)
		return false
	}
	w.letGo(ctx, 0)
	return true
}
