package hub

import "time"

// Stats is a moment of the hub, for metrics.
type Stats struct {
	// AgentConnections and ConsumerConnections are the open websockets of
	// agents (bots included) and of consumers.
	AgentConnections    int
	ConsumerConnections int
	// OpenConversations are the open conversations; Waiting those without
	// an agent, queued on their skill; Rings the offers to agents now
	// ringing.
	OpenConversations int
	Waiting           int
	Rings             int
	// OldestWait is how long the longest-waiting conversation has waited
	// (0 when none waits).
	OldestWait time.Duration
}

// Stats returns the hub's current figures.
func (h *Hub) Stats() Stats {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{OpenConversations: len(h.convs), Waiting: len(h.waiting), Rings: len(h.rings)}
	for c := range h.conns {
		if c.sess != nil {
			st.AgentConnections++
		} else if c.consumer != "" {
			st.ConsumerConnections++
		}
	}
	for _, id := range h.waiting {
		if cs := h.convs[id]; cs != nil && !cs.waitSince.IsZero() {
			st.OldestWait = max(st.OldestWait, now.Sub(cs.waitSince))
		}
	}
	return st
}
