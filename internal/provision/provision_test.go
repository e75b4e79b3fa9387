package provision_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/internal/provision"
	"github.com/botrelay/botrelay/internal/sealed"
	"github.com/botrelay/botrelay/secretbox"
	"github.com/botrelay/botrelay/sqlstore"
)

const account botrelay.AccountID = "1000"

// vendor has the settings {"greeting", "apiKey", "host"}: apiKey is secret
// and required, host is where its calls would go.
type vendor struct{}

func (vendor) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: "v", DisplayName: "V", Secrets: []string{"apiKey"}, Endpoint: []string{"host"}}
}

func (vendor) NewBot(cfg json.RawMessage, _ botrelay.BotEnv) (botrelay.VendorBot, error) {
	var s struct{ Greeting, APIKey, Host string }
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, botrelay.Errorf(botrelay.EINVALID, "%v", err)
	}
	if s.APIKey == "" {
		return nil, botrelay.Errorf(botrelay.EINVALID, "apiKey is required")
	}
	return vendorBot{}, nil
}

type vendorBot struct{}

func (vendorBot) Converse(context.Context, *botrelay.Turn) (*botrelay.Reply, error) {
	return &botrelay.Reply{}, nil
}

// failingStore refuses to store bots, as a database that goes away between
// two statements.
type failingStore struct{ botrelay.Store }

func (failingStore) CreateBot(context.Context, *botrelay.Bot) error {
	return errors.New("the database went away")
}

// fixture is a provisioner on a real SQLite store with two bot users and a
// human.
type fixture struct {
	t          *testing.T
	p          *provision.Provisioner
	store      *sqlstore.Store
	box        *secretbox.Box
	botA, botB *botrelay.User
	human      *botrelay.User
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: filepath.Join(t.TempDir(), "b.db"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Bootstrap(ctx, &botrelay.Bootstrap{Account: &botrelay.Account{ID: account, Name: "A"},
		Profiles: botrelay.BuiltInProfiles(), Skills: []*botrelay.Skill{{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman}},
		Admin: &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true}}); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: store, box: box}
	prof, err := store.ProfileByName(ctx, account, "Agent")
	if err != nil {
		t.Fatal(err)
	}
	user := func(typ botrelay.UserType, login string) *botrelay.User {
		u := &botrelay.User{AccountID: account, Type: typ, LoginName: login, ProfileID: prof.ID, Enabled: true, MessagingSlots: 1}
		if err := store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.botA, f.botB, f.human = user(botrelay.UserBot, "bot-a"), user(botrelay.UserBot, "bot-b"), user(botrelay.UserHuman, "human")
	f.p = f.provisioner(store)
	return f
}

func (f *fixture) provisioner(s botrelay.Store) *provision.Provisioner {
	reg := botrelay.NewRegistry()
	reg.RegisterVendor(vendor{})
	return provision.New(provision.Options{Store: s, Box: f.box, Registry: reg, Account: account,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// newBot is a bot of user with vendor settings (secrets mixed in).
func newBot(user botrelay.UserID, vendorSettings string) *botrelay.Bot {
	return &botrelay.Bot{Name: "b", UserID: user, Type: botrelay.BotAgent, ConversationType: botrelay.Messaging, Vendor: "v",
		Settings: botrelay.BotSettings{Vendor: json.RawMessage(vendorSettings),
			ErrorHandling: botrelay.ErrorHandling{EscalationSkill: botrelay.SkillNameHuman}}}
}

// stored reads bot id back with its opened secrets.
func (f *fixture) stored(id botrelay.BotID) (*botrelay.Bot, *sealed.Secrets) {
	f.t.Helper()
	b, err := f.store.Bot(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	sec, err := sealed.Open(f.box, b)
	if err != nil {
		f.t.Fatal(err)
	}
	return b, sec
}

// keys lists the app keys of user's API key sets.
func (f *fixture) keys(user botrelay.UserID) []*botrelay.APIKey {
	f.t.Helper()
	ks, err := f.store.APIKeys(context.Background(), user)
	if err != nil {
		f.t.Fatal(err)
	}
	return ks
}

func wantError(t *testing.T, err error, code, msg string) {
	t.Helper()
	if botrelay.ErrorCode(err) != code || botrelay.ErrorMessage(err) != msg {
		t.Fatalf("error %v, want %s %q", err, code, msg)
	}
}

func TestCreateBotSealsAFreshKeySetOfItsUser(t *testing.T) {
	f := newFixture(t)
	b := newBot(f.botA.ID, `{"greeting":"hi","apiKey":"sk-123456","host":"a.example"}`)
	if err := f.p.CreateBot(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	got, sec := f.stored(b.ID)
	if string(got.Settings.Vendor) != `{"greeting":"hi","host":"a.example"}` {
		t.Errorf("stored vendor settings %s, want the secret left out", got.Settings.Vendor)
	}
	want := &sealed.Secrets{Vendor: map[string]any{"apiKey": "sk-123456"}, APIKey: sec.APIKey, Bound: true,
		Endpoint: map[string]string{"host": `"a.example"`}}
	if !reflect.DeepEqual(sec, want) {
		t.Errorf("sealed secrets %+v, want %+v", sec, want)
	}
	keys := f.keys(f.botA.ID)
	if len(keys) != 1 || keys[0].AppKey != sec.APIKey.AppKey || keys[0].Description != "bot "+string(b.ID) ||
		!auth.VerifySecret(sec.APIKey.Secret, keys[0].SecretHash) ||
		!auth.VerifySecret(sec.APIKey.AccessTokenSecret, keys[0].AccessTokenSecretHash) {
		t.Errorf("bot user's key sets %+v do not match the sealed one %+v", keys, sec.APIKey)
	}
}

func TestCreateBotRefusesAndLeavesNoKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	err := f.p.CreateBot(ctx, newBot(f.human.ID, `{"apiKey":"sk-123456"}`))
	wantError(t, err, botrelay.EINVALID, fmt.Sprintf("userId %d is not a bot user", f.human.ID))
	err = f.p.CreateBot(ctx, newBot(f.botA.ID, `{"greeting":"hi"}`))
	wantError(t, err, botrelay.EINVALID, "settings.vendor: apiKey is required")
	err = f.provisioner(failingStore{f.store}).CreateBot(ctx, newBot(f.botA.ID, `{"apiKey":"sk-123456"}`))
	if err == nil || err.Error() != "the database went away" {
		t.Fatalf("error %v, want the store's", err)
	}
	if ks := f.keys(f.botA.ID); len(ks) != 0 {
		t.Errorf("refused creates left %d key sets behind", len(ks))
	}
}

func TestUpdateBotToAnotherUserMovesTheKeySet(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b := newBot(f.botA.ID, `{"apiKey":"sk-123456","host":"a.example"}`)
	if err := f.p.CreateBot(ctx, b); err != nil {
		t.Fatal(err)
	}
	upd, err := f.p.UpdateBot(ctx, b, provision.Edit{Name: "renamed", UserID: f.botB.ID,
		Settings: botrelay.BotSettings{Vendor: json.RawMessage(`{"host":"a.example"}`), ErrorHandling: b.Settings.ErrorHandling}})
	if err != nil {
		t.Fatal(err)
	}
	_, sec := f.stored(b.ID)
	if upd.Name != "renamed" || upd.UserID != f.botB.ID || sec.Vendor["apiKey"] != "sk-123456" {
		t.Errorf("updated bot %+v with secrets %+v", upd, sec)
	}
	if ks := f.keys(f.botA.ID); len(ks) != 0 {
		t.Errorf("the previous user keeps %d key sets", len(ks))
	}
	if ks := f.keys(f.botB.ID); len(ks) != 1 || ks[0].AppKey != sec.APIKey.AppKey {
		t.Errorf("the new user's key sets %+v, want the sealed one %s", ks, sec.APIKey.AppKey)
	}
}

func TestUpdateBotEndpointAndPlatformGuards(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b := newBot(f.botA.ID, `{"apiKey":"sk-123456","host":"a.example"}`)
	if err := f.p.CreateBot(ctx, b); err != nil {
		t.Fatal(err)
	}
	edit := func(vendor string) provision.Edit {
		return provision.Edit{Name: "b", Settings: botrelay.BotSettings{Vendor: json.RawMessage(vendor),
			ErrorHandling: b.Settings.ErrorHandling}}
	}
	_, err := f.p.UpdateBot(ctx, b, edit(`{"host":"evil.example"}`))
	wantError(t, err, botrelay.EINVALID, "settings.vendor: changing host changes where the vendor calls go; "+
		"send the secret settings apiKey again (or set them to null to remove them)")
	moved := edit(`{"host":"a.example"}`)
	moved.Settings.Platform = botrelay.PlatformSettings{Account: "123", CSDSDomain: "lp.example"}
	_, err = f.p.UpdateBot(ctx, b, moved)
	wantError(t, err, botrelay.EFORBIDDEN, "changing settings.platform sends the bot's API key set to another platform, "+
		"which needs the bot:create permission")
	if _, err := f.p.UpdateBot(ctx, b, edit(`{"host":"b.example","apiKey":"sk-654321"}`)); err != nil {
		t.Fatal(err)
	}
	_, sec := f.stored(b.ID)
	if sec.Vendor["apiKey"] != "sk-654321" || sec.Endpoint["host"] != `"b.example"` || len(f.keys(f.botA.ID)) != 1 {
		t.Errorf("after the endpoint change: secrets %+v, %d key sets", sec, len(f.keys(f.botA.ID)))
	}
}

func TestDeleteBotDropsItsKeySet(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b := newBot(f.botA.ID, `{"apiKey":"sk-123456"}`)
	if err := f.p.CreateBot(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := f.p.DeleteBot(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Bot(ctx, b.ID); !errors.Is(err, botrelay.ErrNotFound) {
		t.Errorf("the bot is still there: %v", err)
	}
	if ks := f.keys(f.botA.ID); len(ks) != 0 {
		t.Errorf("%d key sets left", len(ks))
	}
}

func TestAddBotStoresAsGivenUnbound(t *testing.T) {
	f := newFixture(t)
	b := newBot(f.botA.ID, `{"not":"checked"}`)
	b.ID, b.AccountID = "bot-given", account
	if err := f.p.AddBot(context.Background(), b, map[string]any{"apiKey": "sk-123456"}, "seeded"); err != nil {
		t.Fatal(err)
	}
	got, sec := f.stored("bot-given")
	if string(got.Settings.Vendor) != `{"not":"checked"}` || sec.Bound || sec.Vendor["apiKey"] != "sk-123456" {
		t.Errorf("stored %s with secrets %+v", got.Settings.Vendor, sec)
	}
	if ks := f.keys(f.botA.ID); len(ks) != 1 || ks[0].Description != "seeded" || ks[0].AppKey != sec.APIKey.AppKey {
		t.Errorf("key sets %+v", ks)
	}
}

func TestResealMovesEveryBotToTheNewKeyOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, u := range []*botrelay.User{f.botA, f.botB} {
		if err := f.p.CreateBot(ctx, newBot(u.ID, `{"apiKey":"sk-123456"}`)); err != nil {
			t.Fatal(err)
		}
	}
	newBox, err := secretbox.New(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	for run, want := range [][2]int{{2, 0}, {0, 2}} {
		resealed, already, err := provision.Reseal(ctx, f.store, account, f.box, newBox)
		if err != nil || resealed != want[0] || already != want[1] {
			t.Fatalf("run %d: resealed %d, already %d, err %v; want %v", run+1, resealed, already, err, want)
		}
	}
	bots, err := f.store.Bots(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bots {
		if sec, err := sealed.Open(newBox, b); err != nil || sec.Vendor["apiKey"] != "sk-123456" {
			t.Errorf("bot %s under the new key: %+v, %v", b.ID, sec, err)
		}
		if _, err := sealed.Open(f.box, b); err == nil {
			t.Errorf("bot %s still opens with the old key", b.ID)
		}
	}
}
