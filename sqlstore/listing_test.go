package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/sqlstore"
)

// TestConversationListingSharesRepeatedValues: the hub keeps every open
// conversation it lists at start for as long as it is open, so a listing
// keeps what repeats from row to row once — the account, the states,
// roles and types, an equal context — and a main dialog's id and the
// consumer participant's id are the conversation's own strings, not
// copies. The values themselves are those stored.
func TestConversationListingSharesRepeatedValues(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: filepath.Join(t.TempDir(), "botrelay.db"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const acct = botrelay.AccountID("1000")
	if _, err := s.Bootstrap(ctx, &botrelay.Bootstrap{
		Account: &botrelay.Account{ID: acct, Name: "Test account"}, Profiles: botrelay.BuiltInProfiles(),
		Skills:      []*botrelay.Skill{{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman}},
		Admin:       &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true, ChatSlots: 1, MessagingSlots: 1},
		AdminSkills: []string{botrelay.SkillNameHuman}, AdminPasswordHash: "hash-of-admin",
	}); err != nil {
		t.Fatal(err)
	}
	skill, err := s.SkillByName(ctx, acct, botrelay.SkillNameBot)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	const context = `{"type":"SharkContext","lang":"en-US"}`
	for i := range 3 {
		id := botrelay.ConversationID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1))
		consumer := botrelay.ConsumerID(fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", i+1))
		cv := &botrelay.Conversation{ID: id, AccountID: acct, ConsumerID: consumer, SkillID: skill.ID,
			State: botrelay.ConversationOpen, TTR: botrelay.TTRNormal, Context: json.RawMessage(context),
			Participants: []botrelay.Participant{{ConsumerID: consumer, Role: botrelay.ParticipantConsumer,
				State: botrelay.ParticipantStateActive, JoinedAt: now}},
			Dialogs: []botrelay.Dialog{{ID: botrelay.DialogID(id), Type: botrelay.DialogMain, State: botrelay.DialogOpen, CreatedAt: now}}}
		if err := s.CreateConversation(ctx, cv); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Conversations(ctx, acct, botrelay.ConversationFilter{State: botrelay.ConversationOpen})
	if err != nil || len(list) != 3 {
		t.Fatalf("Conversations = %d, %v; want 3", len(list), err)
	}
	data := func(s string) *byte { return unsafe.StringData(s) }
	first := list[0]
	for i, cv := range list {
		if cv.AccountID != acct || cv.State != botrelay.ConversationOpen || cv.TTR != botrelay.TTRNormal || string(cv.Context) != context ||
			len(cv.Dialogs) != 1 || cv.Dialogs[0].ID != botrelay.DialogID(cv.ID) || cv.Dialogs[0].Type != botrelay.DialogMain ||
			len(cv.Participants) != 1 || cv.Participants[0].ConsumerID != cv.ConsumerID || cv.Participants[0].Role != botrelay.ParticipantConsumer {
			t.Fatalf("conversation %d listed as %+v", i, cv)
		}
		if data(string(cv.AccountID)) != data(string(first.AccountID)) || data(string(cv.State)) != data(string(first.State)) ||
			data(string(cv.TTR)) != data(string(first.TTR)) || data(string(cv.Dialogs[0].Type)) != data(string(first.Dialogs[0].Type)) ||
			data(string(cv.Participants[0].Role)) != data(string(first.Participants[0].Role)) {
			t.Errorf("conversation %d keeps its own copies of the account, states, types or roles", i)
		}
		if &cv.Context[0] != &first.Context[0] || cap(cv.Context) != len(cv.Context) {
			t.Errorf("conversation %d: context not shared, or shared with room to append into the others' (cap %d, len %d)", i, cap(cv.Context), len(cv.Context))
		}
		if data(string(cv.Dialogs[0].ID)) != data(string(cv.ID)) || data(string(cv.Participants[0].ConsumerID)) != data(string(cv.ConsumerID)) {
			t.Errorf("conversation %d: its main dialog's or consumer participant's id is a copy of its own", i)
		}
	}
}
