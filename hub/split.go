package hub

import (
	"context"

	"github.com/botrelay/botrelay"
)

// Traffic splitting (docs/standins.md): when bots with a routing weight
// (settings.routing.weight) can take a skill's new conversation, the hub
// offers it to one of them in proportion to their weights, by smooth
// weighted round robin (the choices of any window follow the weights, with
// no randomness to wait out). Only the bots that are ONLINE, connected and
// have a free slot (the candidates of dispatch) take part. A conversation,
// once a bot took it, stays with that bot until the bot lets it go.

// routingWeight reads the routing weight of the agent bot bound to user; 0
// when the user runs no agent bot or the bot has no weight. It is read at
// login: a changed weight applies from the bot's next start.
func (h *Hub) routingWeight(ctx context.Context, user botrelay.UserID) (int, error) {
	bots, err := h.store.Bots(ctx, h.o.Account)
	if err != nil {
		return 0, err
	}
	for _, b := range bots {
		if b.UserID == user && b.Type == botrelay.BotAgent {
			return max(b.Settings.Routing.Weight, 0), nil
		}
	}
	return 0, nil
}

// splitPick picks among the weighted candidates of a conversation's skill,
// or returns nil when none of them has a weight. The caller holds h.mu.
func (h *Hub) splitPick(cs *convState, cands []*session) *session {
	var pick *session
	total := 0
	skill := cs.c.SkillID
	for _, s := range cands {
		if s.weight <= 0 || s.survey {
			continue
		}
		if h.splitCur == nil {
			h.splitCur = map[botrelay.SkillID]map[botrelay.UserID]int{}
		}
		cur := h.splitCur[skill]
		if cur == nil {
			cur = map[botrelay.UserID]int{}
			h.splitCur[skill] = cur
		}
		cur[s.user.ID] += s.weight
		total += s.weight
		if pick == nil || cur[s.user.ID] > cur[pick.user.ID] ||
			(cur[s.user.ID] == cur[pick.user.ID] && s.user.ID < pick.user.ID) {
			pick = s
		}
	}
	if pick != nil {
		h.splitCur[skill][pick.user.ID] -= total
	}
	return pick
}
