package liveperson

import (
	"context"

	"github.com/botrelay/botrelay"
)

var _ botrelay.AvailabilitySetter = (*Adapter)(nil)

// SetAvailability implements botrelay.AvailabilitySetter: it sets the bot
// user's routing state (ONLINE, AWAY, OCCUPIED) on the live session. A bot
// that hands its conversations back goes AWAY first, so that routing does
// not offer them, or anything new, to it again. A later reconnection sets
// the agent ONLINE again.
func (a *Adapter) SetAvailability(ctx context.Context, state string) error {
	a.mu.Lock()
	st := a.auth
	a.mu.Unlock()
	if st == nil {
		return ErrNotConnected
	}
	_, err := a.request(ctx, ".ams.routing.SetAgentState", map[string]any{
		"availability": state,
		"channels":     []string{"MESSAGING"},
		"agentUserId":  st.userPID,
	}, nil, "")
	return err
}
