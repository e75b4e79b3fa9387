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
	"time"

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
		{"ConversationEvents", testConversationEvents},
		{"ConversationEventsConcurrent", testConversationEventsConcurrent},
		{"ConversationRestart", testConversationRestart},
	}
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

func agentProfile(t *testing.T, s botrelay.Store) *botrelay.Profile {
	t.Helper()
	p, err := s.ProfileByName(context.Background(), acct, "Agent")
	must(t, err)
	return p
}

func newUser(t *testing.T, s botrelay.Store, login string, typ botrelay.UserType, skills ...botrelay.SkillID) *botrelay.User {
	t.Helper()
	u := &botrelay.User{AccountID: acct, Type: typ, LoginName: login, ProfileID: agentProfile(t, s).ID,
		MessagingSlots: 10, ChatSlots: 2, Enabled: true, SkillIDs: skills}
	must(t, s.CreateUser(context.Background(), u))
	return u
}

func testProfiles(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	list, err := s.Profiles(ctx, acct)
	must(t, err)
	want := map[string]struct{ create, start, stop bool }{
		"Admin":            {true, true, true},
		"Campaign Manager": {true, true, true},
		"Agent Manager":    {false, false, true},
		"Agent":            {false, false, true},
	}
	for _, p := range list {
		w, ok := want[p.Name]
		if !ok || !p.BuiltIn {
			t.Fatalf("unexpected profile %+v", p)
		}
		if p.Has(botrelay.PermBotCreate) != w.create || p.Has(botrelay.PermBotStart) != w.start || p.Has(botrelay.PermBotStop) != w.stop {
			t.Fatalf("profile %s permissions %v do not match the seed rules", p.Name, p.Permissions)
		}
	}
	agent := agentProfile(t, s)
	agent.Description = "changed"
	wantCode(t, s.UpdateProfile(ctx, agent), botrelay.ECONFLICT)
	wantCode(t, s.DeleteProfile(ctx, agent.ID), botrelay.ECONFLICT)

	custom := &botrelay.Profile{AccountID: acct, Name: "Bot starter", Role: botrelay.RoleAgent,
		Permissions: []botrelay.Permission{botrelay.PermBotStart, botrelay.PermBotCreate, botrelay.PermBotStart}}
	must(t, s.CreateProfile(ctx, custom))
	got, err := s.Profile(ctx, custom.ID)
	must(t, err)
	if got.BuiltIn || !slices.Equal(got.Permissions, []botrelay.Permission{botrelay.PermBotCreate, botrelay.PermBotStart}) {
		t.Fatalf("custom profile = %+v", got)
	}
	wantCode(t, s.CreateProfile(ctx, &botrelay.Profile{AccountID: acct, Name: "Bot starter", Role: botrelay.RoleAgent}), botrelay.ECONFLICT)
	wantCode(t, s.CreateProfile(ctx, &botrelay.Profile{AccountID: acct, Name: "x", Role: botrelay.RoleAgent,
		Permissions: []botrelay.Permission{"bot:fly"}}), botrelay.EINVALID)
	wantCode(t, s.CreateProfile(ctx, &botrelay.Profile{AccountID: acct, Name: "x", Role: "KING"}), botrelay.EINVALID)

	got.Permissions = []botrelay.Permission{botrelay.PermBotView}
	got.Name = "Viewer"
	must(t, s.UpdateProfile(ctx, got))
	again, err := s.ProfileByName(ctx, acct, "Viewer")
	must(t, err)
	if !slices.Equal(again.Permissions, []botrelay.Permission{botrelay.PermBotView}) {
		t.Fatalf("permissions after update = %v", again.Permissions)
	}
	wantCode(t, s.UpdateProfile(ctx, &botrelay.Profile{ID: got.ID, Name: "Agent", Role: botrelay.RoleAgent}), botrelay.ECONFLICT)
	wantCode(t, s.UpdateProfile(ctx, &botrelay.Profile{ID: 99999, Name: "ghost", Role: botrelay.RoleAgent}), botrelay.ENOTFOUND)

	// A profile in use cannot be deleted; once free it can.
	u := newUser(t, s, "bob", botrelay.UserHuman)
	u.ProfileID = got.ID
	must(t, s.UpdateUser(ctx, u))
	wantCode(t, s.DeleteProfile(ctx, got.ID), botrelay.ECONFLICT)
	u.ProfileID = agent.ID
	must(t, s.UpdateUser(ctx, u))
	must(t, s.DeleteProfile(ctx, got.ID))
	_, err = s.Profile(ctx, got.ID)
	wantCode(t, err, botrelay.ENOTFOUND)
	wantCode(t, s.DeleteProfile(ctx, got.ID), botrelay.ENOTFOUND)
}

func testUsers(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	bot, err := s.SkillByName(ctx, acct, botrelay.SkillNameBot)
	must(t, err)
	human, err := s.SkillByName(ctx, acct, botrelay.SkillNameHuman)
	must(t, err)

	u := &botrelay.User{AccountID: acct, Type: botrelay.UserHuman, LoginName: "Carol", Email: "carol@example.com",
		ProfileID: agentProfile(t, s).ID, ChatSlots: 3, MessagingSlots: 7, Enabled: true,
		SkillIDs: []botrelay.SkillID{human.ID, bot.ID, human.ID}}
	must(t, s.CreateUser(ctx, u))
	if u.ID == 0 || len(u.PID) != 36 || u.Nickname != "Carol" {
		t.Fatalf("created user = %+v", u)
	}
	got, err := s.User(ctx, u.ID)
	must(t, err)
	wantSkills := []botrelay.SkillID{min(bot.ID, human.ID), max(bot.ID, human.ID)}
	if got.LoginName != "Carol" || got.PID != u.PID || got.ChatSlots != 3 || got.MessagingSlots != 7 ||
		!got.Enabled || got.HasPassword || got.Email != "carol@example.com" || !slices.Equal(got.SkillIDs, wantSkills) {
		t.Fatalf("User = %+v", got)
	}
	byLogin, err := s.UserByLogin(ctx, acct, "cAROL")
	must(t, err)
	if byLogin.ID != u.ID {
		t.Fatalf("UserByLogin id = %d, want %d", byLogin.ID, u.ID)
	}
	_, err = s.UserByLogin(ctx, acct, "nobody")
	wantCode(t, err, botrelay.ENOTFOUND)
	_, err = s.User(ctx, 424242)
	wantCode(t, err, botrelay.ENOTFOUND)

	b := newUser(t, s, "bot-1", botrelay.UserBot, bot.ID)
	all, err := s.Users(ctx, acct, botrelay.UserFilter{})
	must(t, err)
	if len(all) != 3 { // admin, Carol, bot-1
		t.Fatalf("Users = %d, want 3", len(all))
	}
	bots, err := s.Users(ctx, acct, botrelay.UserFilter{Type: botrelay.UserBot})
	must(t, err)
	if len(bots) != 1 || bots[0].ID != b.ID || !slices.Equal(bots[0].SkillIDs, []botrelay.SkillID{bot.ID}) {
		t.Fatalf("bot users = %+v", bots)
	}
	onHuman, err := s.Users(ctx, acct, botrelay.UserFilter{SkillID: human.ID})
	must(t, err)
	if len(onHuman) != 2 || onHuman[1].ID != u.ID { // the seeded admin and Carol
		t.Fatalf("users on skill human = %d, want the admin and Carol", len(onHuman))
	}

	got.LoginName = "carol2"
	got.Nickname = "Caz"
	got.MessagingSlots = 1
	got.Enabled = false
	got.SkillIDs = []botrelay.SkillID{human.ID}
	must(t, s.UpdateUser(ctx, got))
	again, err := s.User(ctx, u.ID)
	must(t, err)
	if again.LoginName != "carol2" || again.Nickname != "Caz" || again.MessagingSlots != 1 || again.Enabled ||
		!slices.Equal(again.SkillIDs, []botrelay.SkillID{human.ID}) || again.PID != u.PID {
		t.Fatalf("after update: %+v", again)
	}
	again.Type = botrelay.UserBot
	wantCode(t, s.UpdateUser(ctx, again), botrelay.EINVALID)
	wantCode(t, s.UpdateUser(ctx, &botrelay.User{ID: 999999, Type: botrelay.UserHuman, LoginName: "ghost", ProfileID: 1}), botrelay.ENOTFOUND)

	must(t, s.DeleteUser(ctx, u.ID))
	_, err = s.User(ctx, u.ID)
	wantCode(t, err, botrelay.ENOTFOUND)
	wantCode(t, s.DeleteUser(ctx, u.ID), botrelay.ENOTFOUND)
}

func testUserConflicts(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	u := newUser(t, s, "dave", botrelay.UserHuman)
	other := newUser(t, s, "erin", botrelay.UserHuman)

	cases := map[string]struct {
		user *botrelay.User
		code string
	}{
		"same login":          {&botrelay.User{Type: botrelay.UserHuman, LoginName: "dave"}, botrelay.ECONFLICT},
		"login in other case": {&botrelay.User{Type: botrelay.UserBot, LoginName: "DAVE"}, botrelay.ECONFLICT},
		"empty login":         {&botrelay.User{Type: botrelay.UserHuman, LoginName: "  "}, botrelay.EINVALID},
		"login with a space":  {&botrelay.User{Type: botrelay.UserHuman, LoginName: "da ve"}, botrelay.EINVALID},
		"bad type":            {&botrelay.User{Type: "ROBOT", LoginName: "r2"}, botrelay.EINVALID},
		"negative slots":      {&botrelay.User{Type: botrelay.UserHuman, LoginName: "neg", MessagingSlots: -1}, botrelay.EINVALID},
		"missing profile":     {&botrelay.User{Type: botrelay.UserHuman, LoginName: "np", ProfileID: 999999}, botrelay.EINVALID},
		"missing skill":       {&botrelay.User{Type: botrelay.UserHuman, LoginName: "ns", SkillIDs: []botrelay.SkillID{999999}}, botrelay.EINVALID},
		"missing account":     {&botrelay.User{AccountID: "nope", Type: botrelay.UserHuman, LoginName: "na"}, botrelay.EINVALID},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.user.AccountID == "" {
				tc.user.AccountID = acct
			}
			if tc.user.ProfileID == 0 {
				tc.user.ProfileID = u.ProfileID
			}
			wantCode(t, s.CreateUser(ctx, tc.user), tc.code)
		})
	}
	other.LoginName = "Dave"
	wantCode(t, s.UpdateUser(ctx, other), botrelay.ECONFLICT)
	// Nothing was lost by the refused writes.
	got, err := s.User(ctx, other.ID)
	must(t, err)
	if got.LoginName != "erin" {
		t.Fatalf("refused update changed the user: %+v", got)
	}
	all, err := s.Users(ctx, acct, botrelay.UserFilter{})
	must(t, err)
	if len(all) != 3 {
		t.Fatalf("users after refused creates = %d, want 3", len(all))
	}
}

func testPasswords(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	u := newUser(t, s, "frank", botrelay.UserHuman)
	cr, err := s.Credentials(ctx, acct, "frank")
	must(t, err)
	if cr.PasswordHash != "" || cr.User.HasPassword {
		t.Fatalf("new user has a password: %+v", cr)
	}
	must(t, s.SetPasswordHash(ctx, u.ID, "h1"))
	cr, err = s.Credentials(ctx, acct, "FRANK")
	must(t, err)
	if cr.PasswordHash != "h1" || !cr.User.HasPassword || cr.User.ID != u.ID {
		t.Fatalf("credentials = %+v", cr)
	}
	must(t, s.SetPasswordHash(ctx, u.ID, ""))
	got, err := s.User(ctx, u.ID)
	must(t, err)
	if got.HasPassword {
		t.Fatal("password not removed")
	}
	wantCode(t, s.SetPasswordHash(ctx, 999999, "x"), botrelay.ENOTFOUND)
	_, err = s.Credentials(ctx, acct, "nobody")
	wantCode(t, err, botrelay.ENOTFOUND)
}

func testAPIKeys(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	u := newUser(t, s, "bot-keys", botrelay.UserBot)
	k := &botrelay.APIKey{AppKey: "app1", UserID: u.ID, AccessToken: "tok1", Description: "main",
		SecretHash: "sh1", AccessTokenSecretHash: "ath1"}
	must(t, s.CreateAPIKey(ctx, k))
	got, err := s.APIKey(ctx, "app1")
	must(t, err)
	if got.UserID != u.ID || got.AccessToken != "tok1" || got.SecretHash != "sh1" || got.AccessTokenSecretHash != "ath1" ||
		got.Description != "main" || !got.LastUsedAt.IsZero() || got.CreatedAt.IsZero() {
		t.Fatalf("APIKey = %+v", got)
	}
	wantCode(t, s.CreateAPIKey(ctx, &botrelay.APIKey{AppKey: "app1", UserID: u.ID, AccessToken: "t", SecretHash: "s", AccessTokenSecretHash: "a"}), botrelay.ECONFLICT)
	wantCode(t, s.CreateAPIKey(ctx, &botrelay.APIKey{AppKey: "app2", UserID: 999999, AccessToken: "t", SecretHash: "s", AccessTokenSecretHash: "a"}), botrelay.ENOTFOUND)
	wantCode(t, s.CreateAPIKey(ctx, &botrelay.APIKey{AppKey: "app3", UserID: u.ID}), botrelay.EINVALID)
	must(t, s.CreateAPIKey(ctx, &botrelay.APIKey{AppKey: "app4", UserID: u.ID, AccessToken: "t4", SecretHash: "s", AccessTokenSecretHash: "a"}))

	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	must(t, s.TouchAPIKey(ctx, "app1", at))
	got, err = s.APIKey(ctx, "app1")
	must(t, err)
	if !got.LastUsedAt.Equal(at) {
		t.Fatalf("LastUsedAt = %v, want %v", got.LastUsedAt, at)
	}
	keys, err := s.APIKeys(ctx, u.ID)
	must(t, err)
	if len(keys) != 2 {
		t.Fatalf("APIKeys = %d, want 2", len(keys))
	}
	must(t, s.DeleteAPIKey(ctx, "app4"))
	wantCode(t, s.DeleteAPIKey(ctx, "app4"), botrelay.ENOTFOUND)
	_, err = s.APIKey(ctx, "app4")
	wantCode(t, err, botrelay.ENOTFOUND)

	// Keys go with their user.
	must(t, s.DeleteUser(ctx, u.ID))
	_, err = s.APIKey(ctx, "app1")
	wantCode(t, err, botrelay.ENOTFOUND)
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
