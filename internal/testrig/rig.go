package testrig

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/internal/jwtsign"
	"github.com/botrelay/botrelay/internal/provision"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/internal/sealed"
	"github.com/botrelay/botrelay/platforms/liveperson"
	"github.com/botrelay/botrelay/secretbox"
	"github.com/botrelay/botrelay/sqlstore"
)

// Account is the rig's account id.
const Account botrelay.AccountID = "1000"

// Rig is a whole botrelay in one test process: an SQLite store, the hub on a
// loopback HTTP server, and the relay whose bots log in to that hub through
// the liveperson adapter over the real websocket protocol.
type Rig struct {
	T        testing.TB
	Store    *sqlstore.Store
	Hub      *hub.Hub
	Relay    *relay.Relay
	Box      *secretbox.Box
	Registry *botrelay.Registry
	URL      string
	Skills   map[string]botrelay.SkillID
	Log      *slog.Logger
	Signer   *jwtsign.Signer

	addr string
	mux  *http.ServeMux
	mu   sync.Mutex
	srv  *http.Server
}

// RigOptions configure NewRig.
type RigOptions struct {
	// Vendors are registered in the rig's registry.
	Vendors []botrelay.VendorConnector
	// Skills are created besides bot and human.
	Skills []string
	// DataDir is the data folder; default t.TempDir().
	DataDir string
	// WrapPlatform, when set, wraps each bot's platform adapter (a test
	// that makes the platform misbehave).
	WrapPlatform func(botrelay.PlatformAdapter) botrelay.PlatformAdapter
	// Observer is the relay's Observer (metrics, figures); nil for none.
	Observer relay.Observer
	// Events, when set, is the hub's and the relay's event sink.
	Events botrelay.EventSink
	// DrainTimeout is the relay's Options.DrainTimeout; 0 its default.
	DrainTimeout time.Duration
	// WrapStore, when set, wraps the store the rig's relay uses (a test
	// that counts or fails its calls); the hub uses the store as it is.
	WrapStore func(botrelay.Store) botrelay.Store
}

// NewRig starts a rig; everything stops when the test ends.
func NewRig(t testing.TB, o RigOptions) *Rig {
	t.Helper()
	auth.PasswordParams = auth.Params{Memory: 64, Iterations: 1, Threads: 1}
	dir := o.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("BOTRELAY_TEST_VERBOSE") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Rig{T: t, Skills: map[string]botrelay.SkillID{}, Log: logger, Registry: botrelay.NewRegistry()}
	r.Registry.RegisterVendor(o.Vendors...)
	r.openStore(ctx, dir, o.Skills)
	key := make([]byte, 32)
	r.Box, _ = secretbox.New(key)
	hubDone := r.startHub(ctx, dir, key, o.Events)
	var relayStore botrelay.Store = r.Store
	if o.WrapStore != nil {
		relayStore = o.WrapStore(r.Store)
	}
	r.Relay = relay.New(relay.Options{Store: relayStore, Registry: r.Registry, Box: r.Box, Logger: logger,
		ConnectTimeout: 10 * time.Second, Signer: r.newSigner(), Scripts: &function.Runner{Logger: logger},
		NewPlatform: r.platform(o.WrapPlatform), Observer: o.Observer, Events: o.Events, HandBack: r.Hub, DrainTimeout: o.DrainTimeout})
	relayDone := make(chan struct{})
	go func() { r.Relay.Run(ctx, Account); close(relayDone) }()
	<-r.Relay.Ready() // bots can be started from here on
	t.Cleanup(func() {
		cancel()
		<-relayDone
		r.Hub.Close()
		<-hubDone
		r.mu.Lock()
		if r.srv != nil {
			r.srv.Close()
		}
		r.mu.Unlock()
		r.Store.Close()
	})
	return r
}

// openStore opens the rig's SQLite store in dir and seeds the account:
// the built-in profiles, an admin, and the skills bot, human and skills.
func (r *Rig) openStore(ctx context.Context, dir string, skills []string) {
	t := r.T
	store, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: filepath.Join(dir, "botrelay.db"), Logger: r.Log})
	if err != nil {
		t.Fatal(err)
	}
	r.Store = store
	boot := &botrelay.Bootstrap{
		Account:     &botrelay.Account{ID: Account, Name: "Rig"},
		Profiles:    botrelay.BuiltInProfiles(),
		Skills:      []*botrelay.Skill{{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman}},
		Admin:       &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", MessagingSlots: 10, Enabled: true},
		AdminSkills: []string{botrelay.SkillNameHuman},
	}
	for _, s := range skills {
		boot.Skills = append(boot.Skills, &botrelay.Skill{Name: s})
	}
	if _, err := store.Bootstrap(ctx, boot); err != nil {
		t.Fatal(err)
	}
	for _, s := range boot.Skills {
		r.Skills[s.Name] = s.ID
	}
}

// startHub serves the hub on a loopback address and runs it until ctx
// ends; the returned channel closes when it has stopped.
func (r *Rig) startHub(ctx context.Context, dir string, key []byte, events botrelay.EventSink) <-chan struct{} {
	t := r.T
	var err error
	r.Hub, err = hub.New(hub.Options{Store: r.Store, Account: Account, DataDir: dir, SigningKey: key, Logger: r.Log,
		RingTimeout: 5 * time.Second, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	r.mux = http.NewServeMux()
	r.Hub.Routes(r.mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.URL = "http://" + r.addr
	r.serve(ln)
	hubDone := make(chan struct{})
	go func() { r.Hub.Run(ctx); close(hubDone) }()
	return hubDone
}

// newSigner makes the rig's JWT signer (r.Signer) with a fresh RSA key.
func (r *Rig) newSigner() *jwtsign.Signer {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		r.T.Fatal(err)
	}
	if r.Signer, err = jwtsign.New(rsaKey); err != nil {
		r.T.Fatal(err)
	}
	return r.Signer
}

// platform makes each bot's session with the rig's hub (through the
// liveperson adapter, reconnecting quickly), wrapped by wrap when set.
func (r *Rig) platform(wrap func(botrelay.PlatformAdapter) botrelay.PlatformAdapter) relay.PlatformFactory {
	return func(b *botrelay.Bot, u *botrelay.User, c sealed.Credentials) (botrelay.PlatformAdapter, error) {
		pa, err := liveperson.New(liveperson.Config{Account: string(Account), CSDSDomain: r.URL, Username: c.Username,
			AppKey: c.AppKey, Secret: c.Secret, AccessToken: c.AccessToken, AccessTokenSecret: c.AccessTokenSecret},
			liveperson.Options{Logger: r.Log, ReconnectMin: 100 * time.Millisecond, ReconnectMax: 500 * time.Millisecond,
				SurveyBot: b.Type == botrelay.BotSurvey})
		if err != nil || wrap == nil {
			return pa, err
		}
		return wrap(pa), nil
	}
}

// NewRelay makes another relay on the rig's store, hub and registry, as a
// botrelay process started again would have; the caller runs it (Run) and
// ends it by cancelling Run's context (a shutdown). The rig's own relay
// must not run the same bots meanwhile.
func (r *Rig) NewRelay() *relay.Relay {
	return relay.New(relay.Options{Store: r.Store, Registry: r.Registry, Box: r.Box, Logger: r.Log,
		ConnectTimeout: 10 * time.Second, Signer: r.Signer, Scripts: &function.Runner{Logger: r.Log},
		NewPlatform: r.platform(nil), HandBack: r.Hub})
}

func (r *Rig) serve(ln net.Listener) {
	srv := &http.Server{Handler: r.mux}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

// StopPlatform closes the hub's listener and every connection, as if the
// platform went away.
func (r *Rig) StopPlatform() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.srv.Close()
	r.srv = nil
	r.Hub.DropConnections() // websockets are hijacked: the server does not close them
}

// StartPlatform serves the hub again on the same address.
func (r *Rig) StartPlatform() {
	var ln net.Listener
	Eventually(r.T, 10*time.Second, "the platform address to be free", func() bool {
		var err error
		ln, err = net.Listen("tcp", r.addr)
		return err == nil
	})
	r.serve(ln)
}

// BotOptions shape AddBot's bot.
type BotOptions struct {
	Vendor   string
	Settings any // the vendor settings, JSON-encoded
	// Secrets are the vendor's secret settings.
	Secrets map[string]any
	// Edit changes the bot before it is stored.
	Edit func(*botrelay.Bot)
	// Skills of the bot user; default: bot.
	Skills []string
}

// AddBot creates a bot user on skill bot and a bot that logs in as it with
// a fresh API key set (provision.AddBot); it is not started.
func (r *Rig) AddBot(name string, o BotOptions) *botrelay.Bot {
	t := r.T
	t.Helper()
	ctx := context.Background()
	prof, err := r.Store.ProfileByName(ctx, Account, "Agent")
	if err != nil {
		t.Fatal(err)
	}
	skills := o.Skills
	if skills == nil {
		skills = []string{botrelay.SkillNameBot}
	}
	var ids []botrelay.SkillID
	for _, s := range skills {
		ids = append(ids, r.Skills[s])
	}
	u := &botrelay.User{AccountID: Account, Type: botrelay.UserBot, LoginName: name + "-user", MessagingSlots: 1000,
		ProfileID: prof.ID, Enabled: true, SkillIDs: ids}
	if err := r.Store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	settings, err := json.Marshal(o.Settings)
	if err != nil {
		t.Fatal(err)
	}
	b := &botrelay.Bot{ID: botrelay.BotID("bot-" + name), AccountID: Account, Name: name, UserID: u.ID, Vendor: o.Vendor,
		Settings: botrelay.BotSettings{Vendor: settings, ErrorHandling: botrelay.ErrorHandling{
			EscalationSkill: botrelay.SkillNameHuman, MessageToConsumer: "Let me get you a human.",
			MessageToAgent: "Escalated by the bot.", TransferFailureMessage: "Sorry, nobody can help right now.",
		}}}
	if o.Edit != nil {
		o.Edit(b)
	}
	prov := provision.New(provision.Options{Store: r.Store, Box: r.Box, Registry: r.Registry, Account: Account, Logger: r.Log})
	if err := prov.AddBot(ctx, b, o.Secrets, ""); err != nil {
		t.Fatal(err)
	}
	return b
}

// AddHuman creates a human agent with a password on skills.
func (r *Rig) AddHuman(login, password string, skills ...string) *botrelay.User {
	t := r.T
	t.Helper()
	ctx := context.Background()
	prof, err := r.Store.ProfileByName(ctx, Account, "Agent")
	if err != nil {
		t.Fatal(err)
	}
	var ids []botrelay.SkillID
	for _, s := range skills {
		ids = append(ids, r.Skills[s])
	}
	u := &botrelay.User{AccountID: Account, Type: botrelay.UserHuman, LoginName: login, MessagingSlots: 10,
		ProfileID: prof.ID, Enabled: true, SkillIDs: ids}
	if err := r.Store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Store.SetPasswordHash(ctx, u.ID, hash); err != nil {
		t.Fatal(err)
	}
	return u
}

// Start starts a bot and waits until it is in want.
func (r *Rig) Start(b *botrelay.Bot, want botrelay.BotState) {
	r.T.Helper()
	if err := r.Relay.Start(context.Background(), b.ID); err != nil {
		r.T.Fatal(err)
	}
	r.WaitState(b, want, 15*time.Second)
}

// WaitState waits until the bot is in want.
func (r *Rig) WaitState(b *botrelay.Bot, want botrelay.BotState, d time.Duration) {
	r.T.Helper()
	Eventually(r.T, d, "bot state "+string(want)+" (now "+string(r.Relay.State(b.ID))+")", func() bool {
		return r.Relay.State(b.ID) == want
	})
}

// Conversation reads a conversation from the store.
func (r *Rig) Conversation(id string) *botrelay.Conversation {
	r.T.Helper()
	c, err := r.Store.Conversation(context.Background(), botrelay.ConversationID(id))
	if err != nil {
		r.T.Fatal(err)
	}
	return c
}

// WaitSkill waits until the conversation is routed to skill with no agent
// assigned (a transfer landed) and returns it.
func (r *Rig) WaitSkill(id, skill string, d time.Duration) *botrelay.Conversation {
	r.T.Helper()
	var c *botrelay.Conversation
	Eventually(r.T, d, "conversation on skill "+skill, func() bool {
		var err error
		c, err = r.Store.Conversation(context.Background(), botrelay.ConversationID(id))
		return err == nil && c.SkillID == r.Skills[skill] && c.AssignedAgent() == 0
	})
	return c
}

// Errors returns the bot's conversation error codes, newest first.
func (r *Rig) Errors(b *botrelay.Bot) []string {
	errs, err := r.Store.BotErrors(context.Background(), b.ID, "", 0)
	if err != nil && !errors.Is(err, botrelay.ErrNotFound) {
		r.T.Fatal(err)
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Code)
	}
	return out
}
