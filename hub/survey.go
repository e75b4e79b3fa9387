package hub

import (
	"context"
	"slices"
	"time"

	"github.com/botrelay/botrelay"
)

// Post-conversation surveys (F41, docs/protocol.md "Surveys").
//
// Closing the main dialog of a conversation on a skill with PostSurvey (an
// agent's DialogChange, or the consumer closing the conversation) opens a
// POST_SURVEY dialog, removes the assigned agent, and routes the
// conversation to a survey bot of the skill: a logged-in bot user whose bot
// is of type SURVEY and lists the skill in settings.survey.skills (or lists
// none). Survey bots are rung for nothing else, and other agents are never
// rung for a survey. When no survey bot of the skill is logged in, the
// conversation closes at once instead: a survey nobody runs would leave the
// consumer waiting. Closing the survey dialog closes the conversation.

// surveyRole reads whether user is the user of a survey bot, and the
// skills whose surveys it runs. A listed skill that no longer exists is
// skipped.
func (h *Hub) surveyRole(ctx context.Context, user botrelay.UserID) (bool, []botrelay.SkillID, error) {
	bots, err := h.store.Bots(ctx, h.o.Account)
	if err != nil {
		return false, nil, err
	}
	for _, b := range bots {
		if b.UserID != user || b.Type != botrelay.BotSurvey {
			continue
		}
		var skills []botrelay.SkillID
		for _, ref := range b.Settings.Survey.Skills {
			sk, err := h.resolveSkill(ctx, ref)
			if err != nil {
				h.log.Warn("survey bot lists a skill that does not exist", "bot_id", string(b.ID), "skill", ref)
				continue
			}
			skills = append(skills, sk.ID)
		}
		if len(b.Settings.Survey.Skills) > 0 && len(skills) == 0 {
			skills = []botrelay.SkillID{-1} // none of its skills exists: it serves none
		}
		return true, skills, nil
	}
	return false, nil, nil
}

// servesSurvey reports whether s runs the surveys of skill.
func (s *session) servesSurvey(skill botrelay.SkillID) bool {
	return s.survey && (len(s.surveySkills) == 0 || slices.Contains(s.surveySkills, skill))
}

// surveyServed reports whether a survey bot of skill is logged in and
// connected. The caller holds h.mu.
func (h *Hub) surveyServed(skill botrelay.SkillID) bool {
	for _, s := range h.userSession {
		if s.conn != nil && s.servesSurvey(skill) {
			return true
		}
	}
	return false
}

// inSurvey reports whether c's open dialog is a post-conversation survey.
func inSurvey(c *botrelay.Conversation) bool {
	d := c.OpenDialog()
	return d != nil && d.Type == botrelay.DialogPostSurvey
}

// openSurvey closes nc's main dialog into a survey dialog and removes the
// assigned agent, so that routing offers the survey to a survey bot.
func openSurvey(nc *botrelay.Conversation, main *botrelay.Dialog, by string, now time.Time) {
	main.State, main.ClosedBy, main.ClosedAt = botrelay.DialogClose, by, now
	nc.Dialogs = append(nc.Dialogs, botrelay.Dialog{ID: botrelay.DialogID(newID()),
		Type: botrelay.DialogPostSurvey, State: botrelay.DialogOpen, CreatedAt: now})
	kept := nc.Participants[:0]
	for _, p := range nc.Participants {
		if p.Role != botrelay.ParticipantAssignedAgent {
			kept = append(kept, p)
		}
	}
	nc.Participants = kept
}
