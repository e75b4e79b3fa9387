package liveperson

import (
	"encoding/json"

	"github.com/botrelay/botrelay"
)

// What the adapter keeps per open conversation (convState) is kept small:
// a bot may hold thousands of idle ones, and a node restarted with them
// lists them all at once.

// ctxCache is the encoded conversationContext of a conversation, for a
// conversation type and skill.
type ctxCache struct {
	json  json.RawMessage
	typ   botrelay.ConversationType
	skill botrelay.SkillID
}

// maxSharedContexts bounds the adapter's table of consumer contexts.
const maxSharedContexts = 64

// sharedContext returns a copy of raw shared by the conversations whose
// consumer context is the same (one widget's conversations often have
// one): a few distinct ones are remembered, the others kept as they are.
// The caller holds a.mu; raw is not written to afterwards.
func (a *Adapter) sharedContext(raw json.RawMessage) json.RawMessage {
	if c, ok := a.contexts[string(raw)]; ok {
		return c
	}
	if len(a.contexts) < maxSharedContexts && len(raw) <= 1024 {
		if a.contexts == nil {
			a.contexts = map[string]json.RawMessage{}
		}
		raw = raw[:len(raw):len(raw)]
		a.contexts[string(raw)] = raw
	}
	return raw
}
