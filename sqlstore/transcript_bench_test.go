package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// BenchmarkUpdateConversation is an agent joining or leaving a
// conversation, committed durably: the update also reads the stored state
// and records the change for the transcript (migration 010).
func BenchmarkUpdateConversation(b *testing.B) {
	s, cv := benchStore(b)
	ctx := context.Background()
	admin, err := s.UserByLogin(ctx, "1000", "admin")
	if err != nil {
		b.Fatal(err)
	}
	consumer := cv.Participants[0]
	agent := botrelay.Participant{UserID: admin.ID, Role: botrelay.ParticipantAssignedAgent, State: botrelay.ParticipantStateActive,
		JoinedAt: time.Now()}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		cv.Participants = []botrelay.Participant{consumer}
		if i%2 == 0 {
			cv.Participants = append(cv.Participants, agent)
		}
		i++
		if err := s.UpdateConversation(ctx, cv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearchConversations searches 2000 conversations (a page of 50
// by skill, and by part of a consumer's name, which scans).
func BenchmarkSearchConversations(b *testing.B) {
	s, cv := benchStore(b)
	ctx := context.Background()
	for n := 2; n <= 2000; n++ {
		benchConversation(b, s, cv.SkillID, n)
	}
	for name, q := range map[string]botrelay.ConversationQuery{
		"skill":         {SkillID: cv.SkillID, Limit: 50},
		"consumer-name": {Consumer: "nobody", Limit: 50},
		"state-open":    {State: botrelay.ConversationOpen, Limit: 50},
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.SearchConversations(ctx, "1000", q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
