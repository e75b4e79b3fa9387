// Package storetest is the conformance suite for botrelay.Store
// implementations. One body runs on every engine: sqlstore's tests run it on
// SQLite always and on PostgreSQL when BOTRELAY_TEST_POSTGRES is set.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/botrelay/botrelay"
)

// NewDB prepares an empty database for one test and returns a function that
// opens a Store on it. The suite calls open more than once to simulate
// restarts, closing the previous Store first; the returned Store is closed by
// the suite.
type NewDB func(t *testing.T) (open func() (botrelay.Store, error))

const acct botrelay.AccountID = "1000"

// Run runs the whole suite.
func Run(t *testing.T, newDB NewDB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newDB NewDB)
	}{
		{"Accounts", testAccounts},
		{"Bootstrap", testBootstrap},
		{"Skills", testSkills},
		{"Profiles", testProfiles},
		{"Users", testUsers},
		{"UserConflicts", testUserConflicts},
		{"Passwords", testPasswords},
		{"APIKeys", testAPIKeys},
		{"BotBinding", testBotBinding},
		{"BotBindingConcurrent", testBotBindingConcurrent},
		{"Restart", testRestart},
		{"BotSettings", testBotSettings},
		{"BotConversations", testBotConversations},
		{"BotStateEvents", testBotStateEvents},
		{"BotErrors", testBotErrors},
		{"ConcurrentWrites", testConcurrentWrites},
		{"Surveys", testSurveys},
		{"Conversations", testConversations},
		{"LongListing", testLongListing},
		{"ConversationEvents", testConversationEvents},
		{"ConversationEventsConcurrent", testConversationEventsConcurrent},
		{"ConversationEventsMixed", testConversationEventsMixed},
		{"ConversationRestart", testConversationRestart},
		{"APISessions", testAPISessions}, {"APITokens", testAPITokens}, {"APICredentialsRevoke", testAPICredentialsRevoke}, {"APICredentialsRestart", testAPICredentialsRestart},
		{"ConversationChanges", testConversationChanges},
		{"ConversationSearch", testConversationSearch},
		{"ConversationBotErrors", testConversationBotErrors},
		{"BotStats", testBotStats},
		{"CannedReplies", testCannedReplies},
		{"Commands", testCommands},
		{"CommandRetention", testCommandRetention},
		{"PublicAPIState", testPublicAPIState},
		{"Webhooks", testWebhooks},
		{"WebhookDeliveries", testWebhookDeliveries},
		{"WebhookClaimsConcurrent", testWebhookClaimsConcurrent},
		{"StandIns", testStandIns},
	}
	tests = append(tests, hubCases...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newDB) })
	}
}

// openStore opens a store on a fresh database and closes it at the end.
func openStore(t *testing.T, newDB NewDB) botrelay.Store {
	t.Helper()
	open := newDB(t)
	s, err := open()
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seeded opens a store with an account bootstrapped like a first start.
func seeded(t *testing.T, newDB NewDB) (botrelay.Store, *botrelay.Bootstrap) {
	t.Helper()
	s := openStore(t, newDB)
	b := newBootstrap()
	if created, err := s.Bootstrap(context.Background(), b); err != nil || !created {
		t.Fatalf("Bootstrap = %v, %v; want true, nil", created, err)
	}
	return s, b
}

func newBootstrap() *botrelay.Bootstrap {
	return &botrelay.Bootstrap{
		Account:           &botrelay.Account{ID: acct, Name: "Test account"},
		Profiles:          botrelay.BuiltInProfiles(),
		Skills:            []*botrelay.Skill{{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman}},
		Admin:             &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true, ChatSlots: 1, MessagingSlots: 1},
		AdminSkills:       []string{botrelay.SkillNameHuman},
		AdminPasswordHash: "hash-of-admin",
	}
}

// wantCode fails unless err carries the code. For ECONFLICT and EINVALID it
// also checks that no driver text leaked into the message.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := botrelay.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (err %v), want %q", got, err, code)
	}
	msg := strings.ToLower(botrelay.ErrorMessage(err))
	for _, leak := range []string{"unique", "constraint", "sqlstate", "duplicate key", "foreign key", "sqlite", "pq:", "pgx"} {
		if strings.Contains(msg, leak) {
			t.Fatalf("error message %q leaks driver text %q", botrelay.ErrorMessage(err), leak)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testAccounts(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s := openStore(t, newDB)
	_, err := s.Account(ctx, acct)
	wantCode(t, err, botrelay.ENOTFOUND)
	a := &botrelay.Account{ID: acct, Name: "Acme"}
	must(t, s.CreateAccount(ctx, a))
	if a.CreatedAt.IsZero() {
		t.Fatal("CreatedAt not set")
	}
	got, err := s.Account(ctx, acct)
	must(t, err)
	if got.Name != "Acme" || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("Account = %+v, want %+v", got, a)
	}
	wantCode(t, s.CreateAccount(ctx, &botrelay.Account{ID: acct, Name: "again"}), botrelay.ECONFLICT)
	wantCode(t, s.CreateAccount(ctx, &botrelay.Account{ID: "bad id/", Name: "x"}), botrelay.EINVALID)
}

func testBootstrap(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	if b.Admin.ID == 0 || b.Admin.PID == "" {
		t.Fatalf("admin not stored: %+v", b.Admin)
	}
	admin, err := s.User(ctx, b.Admin.ID)
	must(t, err)
	prof, err := s.Profile(ctx, admin.ProfileID)
	must(t, err)
	if prof.Role != botrelay.RoleAdmin || !prof.Has(botrelay.PermBotCreate) {
		t.Fatalf("admin profile = %+v, want the Admin profile", prof)
	}
	human, err := s.SkillByName(ctx, acct, botrelay.SkillNameHuman)
	must(t, err)
	if !slices.Equal(admin.SkillIDs, []botrelay.SkillID{human.ID}) {
		t.Fatalf("admin skills = %v, want [%d] (human)", admin.SkillIDs, human.ID)
	}
	cr, err := s.Credentials(ctx, acct, "ADMIN")
	must(t, err)
	if cr.PasswordHash != "hash-of-admin" || !cr.User.HasPassword {
		t.Fatalf("admin credentials = %q, HasPassword %v", cr.PasswordHash, cr.User.HasPassword)
	}
	// A second bootstrap changes nothing, even with other content.
	again := newBootstrap()
	again.Admin.LoginName = "second-admin"
	again.Skills = append(again.Skills, &botrelay.Skill{Name: "extra"})
	created, err := s.Bootstrap(ctx, again)
	must(t, err)
	if created {
		t.Fatal("second Bootstrap reported created")
	}
	users, err := s.Users(ctx, acct, botrelay.UserFilter{})
	must(t, err)
	skills, err := s.Skills(ctx, acct)
	must(t, err)
	profiles, err := s.Profiles(ctx, acct)
	must(t, err)
	if len(users) != 1 || len(skills) != 2 || len(profiles) != 4 {
		t.Fatalf("after second bootstrap: %d users, %d skills, %d profiles; want 1, 2, 4", len(users), len(skills), len(profiles))
	}
}

func testSkills(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	sk := &botrelay.Skill{AccountID: acct, Name: "  billing ", Description: "Billing questions"}
	must(t, s.CreateSkill(ctx, sk))
	if sk.ID == 0 || sk.Name != "billing" {
		t.Fatalf("created skill = %+v", sk)
	}
	got, err := s.Skill(ctx, sk.ID)
	must(t, err)
	if got.Name != "billing" || got.Description != "Billing questions" || got.AccountID != acct || got.PostSurvey {
		t.Fatalf("Skill = %+v", got)
	}
	byName, err := s.SkillByName(ctx, acct, "billing")
	must(t, err)
	if byName.ID != sk.ID {
		t.Fatalf("SkillByName id = %d, want %d", byName.ID, sk.ID)
	}
	_, err = s.SkillByName(ctx, acct, "Billing") // names are case-sensitive, as in LivePerson
	wantCode(t, err, botrelay.ENOTFOUND)
	wantCode(t, s.CreateSkill(ctx, &botrelay.Skill{AccountID: acct, Name: "billing"}), botrelay.ECONFLICT)
	wantCode(t, s.CreateSkill(ctx, &botrelay.Skill{AccountID: acct, Name: " "}), botrelay.EINVALID)

	sk.Name, sk.Description, sk.PostSurvey = "payments", "Payments", true
	must(t, s.UpdateSkill(ctx, sk))
	got, err = s.Skill(ctx, sk.ID)
	must(t, err)
	if got.Name != "payments" || got.Description != "Payments" || !got.PostSurvey {
		t.Fatalf("after update: %+v", got)
	}
	wantCode(t, s.UpdateSkill(ctx, &botrelay.Skill{ID: sk.ID, Name: botrelay.SkillNameHuman}), botrelay.ECONFLICT)
	wantCode(t, s.UpdateSkill(ctx, &botrelay.Skill{ID: 99999, Name: "nope"}), botrelay.ENOTFOUND)

	list, err := s.Skills(ctx, acct)
	must(t, err)
	if names := skillNames(list); !slices.Equal(names, []string{"bot", "human", "payments"}) {
		t.Fatalf("Skills = %v", names)
	}

	// Deleting a skill removes it from users.
	u := newUser(t, s, "alice", botrelay.UserHuman, sk.ID)
	must(t, s.DeleteSkill(ctx, sk.ID))
	_, err = s.Skill(ctx, sk.ID)
	wantCode(t, err, botrelay.ENOTFOUND)
	wantCode(t, s.DeleteSkill(ctx, sk.ID), botrelay.ENOTFOUND)
	got2, err := s.User(ctx, u.ID)
	must(t, err)
	if len(got2.SkillIDs) != 0 {
		t.Fatalf("user skills after skill delete = %v, want none", got2.SkillIDs)
	}
}

func skillNames(list []*botrelay.Skill) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Name)
	}
	return out
}

func testBotBinding(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	bu := newUser(t, s, "bot-user", botrelay.UserBot)
	bu2 := newUser(t, s, "bot-user-2", botrelay.UserBot)
	h := newUser(t, s, "grace", botrelay.UserHuman)

	first := &botrelay.Bot{AccountID: acct, Vendor: "function", Name: "First", UserID: bu.ID}
	must(t, s.CreateBot(ctx, first))
	if first.ID == "" {
		t.Fatal("bot id not assigned")
	}
	got, err := s.Bot(ctx, first.ID)
	must(t, err)
	if got.Name != "First" || got.UserID != bu.ID {
		t.Fatalf("Bot = %+v", got)
	}
	// The same bot user cannot serve two bots.
	wantCode(t, s.CreateBot(ctx, &botrelay.Bot{AccountID: acct, Vendor: "function", Name: "Second", UserID: bu.ID}), botrelay.ECONFLICT)
	// Only bot users can be bound, and they must exist.
	wantCode(t, s.CreateBot(ctx, &botrelay.Bot{AccountID: acct, Vendor: "function", Name: "Human", UserID: h.ID}), botrelay.EINVALID)
	wantCode(t, s.CreateBot(ctx, &botrelay.Bot{AccountID: acct, Vendor: "function", Name: "Ghost", UserID: 999999}), botrelay.EINVALID)
	wantCode(t, s.CreateBot(ctx, &botrelay.Bot{AccountID: acct, Vendor: "function", Name: "Admin", UserID: b.Admin.ID}), botrelay.EINVALID)
	wantCode(t, s.CreateBot(ctx, &botrelay.Bot{AccountID: acct, Vendor: "function", Name: " ", UserID: bu2.ID}), botrelay.EINVALID)

	second := &botrelay.Bot{AccountID: acct, Vendor: "function", Name: "Second", UserID: bu2.ID}
	must(t, s.CreateBot(ctx, second))
	second.UserID = bu.ID
	wantCode(t, s.UpdateBot(ctx, second), botrelay.ECONFLICT)
	// A bound user cannot be deleted.
	wantCode(t, s.DeleteUser(ctx, bu.ID), botrelay.ECONFLICT)

	// Deleting the first bot releases its user for the second.
	must(t, s.DeleteBot(ctx, first.ID))
	wantCode(t, s.DeleteBot(ctx, first.ID), botrelay.ENOTFOUND)
	second.UserID = bu.ID
	second.Name = "Second renamed"
	must(t, s.UpdateBot(ctx, second))
	list, err := s.Bots(ctx, acct)
	must(t, err)
	if len(list) != 1 || list[0].UserID != bu.ID || list[0].Name != "Second renamed" {
		t.Fatalf("Bots = %+v", list)
	}
	must(t, s.DeleteUser(ctx, bu2.ID)) // now free
}

// testBotBindingConcurrent races many binders for one bot user: exactly one
// wins, whatever the interleaving, because the rule lives in the database.
func testBotBindingConcurrent(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	bu := newUser(t, s, "contested", botrelay.UserBot)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CreateBot(ctx, &botrelay.Bot{AccountID: acct, Vendor: "function", Name: fmt.Sprintf("racer %d", i), UserID: bu.ID})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if botrelay.ErrorCode(err) != botrelay.ECONFLICT {
			t.Fatalf("racing CreateBot error = %v, want a conflict", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d racing binds succeeded, want exactly 1", ok)
	}
}

// testRestart closes and reopens the store: migrations run again without
// effect and everything written is still there.
func testRestart(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	open := newDB(t)
	s, err := open()
	must(t, err)
	b := newBootstrap()
	if _, err := s.Bootstrap(ctx, b); err != nil {
		t.Fatal(err)
	}
	u := newUser(t, s, "persisted", botrelay.UserBot)
	bot := &botrelay.Bot{AccountID: acct, Vendor: "function", Name: "Keeper", UserID: u.ID}
	must(t, s.CreateBot(ctx, bot))
	must(t, s.Close())

	for i := range 2 {
		s, err = open()
		if err != nil {
			t.Fatalf("reopen %d: %v", i+1, err)
		}
		got, err := s.UserByLogin(ctx, acct, "persisted")
		must(t, err)
		if got.PID != u.PID {
			t.Fatalf("reopen %d: user = %+v", i+1, got)
		}
		gotBot, err := s.Bot(ctx, bot.ID)
		must(t, err)
		if gotBot.UserID != u.ID {
			t.Fatalf("reopen %d: bot = %+v", i+1, gotBot)
		}
		created, err := s.Bootstrap(ctx, newBootstrap())
		must(t, err)
		if created {
			t.Fatalf("reopen %d: bootstrap ran again", i+1)
		}
		must(t, s.Close())
	}
	var be *botrelay.Error
	if errors.As(err, &be) {
		t.Fatal(be)
	}
}
