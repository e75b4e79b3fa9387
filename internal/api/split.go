package api

import (
	"math"
	"net/http"
	"slices"

	"github.com/botrelay/botrelay"
)

// splitBotJSON is one bot's part in a skill's traffic split, with the
// counters that compare it to the others (docs/standins.md).
type splitBotJSON struct {
	BotID   botrelay.BotID    `json:"botId"`
	Name    string            `json:"name"`
	Weight  int               `json:"weight"`
	State   botrelay.BotState `json:"state"`
	OnSkill bool              `json:"onSkill"`
	// Assigned counts the conversations the bot got on the skill; Share is
	// its percentage of all the skill's bots' conversations.
	Assigned    int     `json:"assigned"`
	Share       float64 `json:"share"`
	Open        int     `json:"open"`
	Closed      int     `json:"closed"`
	Transferred int     `json:"transferred"`
	Escalated   int     `json:"escalated"`
	HandedBack  int     `json:"handedBack"`
	// Containment is the percentage of the bot's finished conversations it
	// closed itself or the consumer closed with it (not transferred,
	// escalated or handed back); null before any finished.
	Containment *float64 `json:"containment"`
}

type splitJSON struct {
	SkillID botrelay.SkillID `json:"skillId"`
	Skill   string           `json:"skill"`
	Bots    []splitBotJSON   `json:"bots"`
}

// skillSplit shows how a skill's conversations split across its bots: every
// agent bot whose user has the skill, and every bot that had conversations
// on it, with their counters.
func (a *API) skillSplit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s, err := a.skill(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	figures, err := a.o.Store.SplitFigures(ctx, s.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	bots, err := a.o.Store.Bots(ctx, a.o.Account)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	byBot := map[botrelay.BotID]*botrelay.SplitFigures{}
	total := 0
	for _, f := range figures {
		byBot[f.BotID] = f
		total += f.Assigned
	}
	out := splitJSON{SkillID: s.ID, Skill: s.Name, Bots: []splitBotJSON{}}
	for _, b := range bots {
		if b.Type != botrelay.BotAgent {
			continue
		}
		onSkill := false
		if u, err := a.o.Store.User(ctx, b.UserID); err == nil {
			onSkill = slices.Contains(u.SkillIDs, s.ID)
		}
		f := byBot[b.ID]
		if f == nil && !onSkill {
			continue
		}
		if f == nil {
			f = &botrelay.SplitFigures{BotID: b.ID}
		}
		out.Bots = append(out.Bots, splitBot(b, f, onSkill, total, a.o.Relay.State(b.ID)))
	}
	writeJSON(w, http.StatusOK, out)
}

func splitBot(b *botrelay.Bot, f *botrelay.SplitFigures, onSkill bool, total int, state botrelay.BotState) splitBotJSON {
	j := splitBotJSON{BotID: b.ID, Name: b.Name, Weight: b.Settings.Routing.Weight, State: state, OnSkill: onSkill,
		Assigned: f.Assigned, Open: f.Open, Closed: f.Closed, Transferred: f.Transferred, Escalated: f.Escalated,
		HandedBack: f.HandedBack}
	if total > 0 {
		j.Share = percent(f.Assigned, total)
	}
	if done := f.Assigned - f.Open; done > 0 {
		c := percent(f.Closed, done)
		j.Containment = &c
	}
	return j
}

// percent is 100·n/of, to one decimal.
func percent(n, of int) float64 {
	return math.Round(float64(n)*1000/float64(of)) / 10
}
