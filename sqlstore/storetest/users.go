package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

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
