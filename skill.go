package botrelay

import "time"

// SkillID identifies a skill within its account. Like LivePerson skill ids it
// is a number; bots name skills, and the connector resolves the name.
type SkillID int64

// Skill is a routing queue: conversations wait on a skill until an agent
// (human or bot) with that skill takes them.
type Skill struct {
	ID          SkillID
	AccountID   AccountID
	Name        string // unique within the account, case-sensitive as in LivePerson
	Description string
	// PostSurvey tells the hub that closing a conversation's main dialog on
	// this skill opens a post-conversation survey dialog (PCS), which survey
	// bots of the skill answer.
	PostSurvey bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Validate normalises s and reports the first rule it breaks.
func (s *Skill) Validate() error {
	s.Name = trimmed(s.Name)
	s.Description = trimmed(s.Description)
	if s.Name == "" || len(s.Name) > 128 {
		return Errorf(EINVALID, "name must be 1 to 128 bytes")
	}
	if len(s.Description) > 1024 {
		return Errorf(EINVALID, "description must be at most 1024 bytes")
	}
	return nil
}

// The skills seeded on first start: the demo bot's skill, where the consumer
// page routes new conversations, and the human agents' skill.
const (
	SkillNameBot   = "bot"
	SkillNameHuman = "human"
)
