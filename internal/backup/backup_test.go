package backup_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/app"
	"github.com/botrelay/botrelay/internal/backup"
	"github.com/botrelay/botrelay/internal/config"
	"github.com/botrelay/botrelay/internal/testrig"
	"github.com/botrelay/botrelay/secretbox"
	"github.com/botrelay/botrelay/sqlstore"
)

const password = "Backup-pass-42"

// place is where a server keeps its data: a data folder (master.key, and
// the SQLite database unless database is set) and a database URL.
type place struct {
	name     string
	data     string
	database string
}

func (p place) config() config.Config {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = p.data
	cfg.Database = p.database
	cfg.Log.Level = "error"
	cfg.ShutdownTimeout = config.Duration(10 * time.Second)
	return cfg
}

func (p place) db() backup.Database {
	driver, dsn := p.config().DatabaseURL()
	if driver == "postgres" {
		return backup.Database{Dialect: sqlstore.Postgres, DSN: dsn}
	}
	return backup.Database{Dialect: sqlstore.SQLite, DSN: dsn}
}

func (p place) store(t *testing.T) *sqlstore.Store {
	t.Helper()
	d := p.db()
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: d.Dialect, DSN: d.DSN, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sqlitePlace(t *testing.T, name string) place {
	return place{name: name, data: t.TempDir()}
}

// postgresPlace is a data folder and a new PostgreSQL schema, dropped after
// the test; it skips the test without BOTRELAY_TEST_POSTGRES.
func postgresPlace(t *testing.T, name string) place {
	t.Helper()
	base := os.Getenv("BOTRELAY_TEST_POSTGRES")
	if base == "" {
		t.Skip("BOTRELAY_TEST_POSTGRES is not set; .ci/run sets it")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "backup_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return place{name: name, data: t.TempDir(), database: u.String()}
}

// serve runs the real server (app.Main) on p until the returned stop.
func serve(t *testing.T, p place) (string, func()) {
	t.Helper()
	reg := botrelay.NewRegistry()
	reg.RegisterVendor(function.Connector{})
	env := map[string]string{"BOTRELAY_ADMIN_PASSWORD": password}
	m := &app.Main{Config: p.config(), Registry: reg, Stdout: io.Discard, Logs: io.Discard,
		Getenv: func(k string) string { return env[k] }}
	ready := m.Ready()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server on %s: %v", p.name, err)
		}
	}
	t.Cleanup(stop)
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("server on %s did not start: %v", p.name, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("server on %s did not start within 30 s", p.name)
	}
	return "http://" + m.Addr(), stop
}

// state is what a user sees of a botrelay: bots (without their live
// state), users, skills and profiles through the API, and every
// conversation with its message events from the store.
type state struct {
	Bots          []map[string]any
	Users         json.RawMessage
	Skills        json.RawMessage
	Profiles      json.RawMessage
	Canned        json.RawMessage
	Conversations []conversation
}

type conversation struct {
	Conversation *botrelay.Conversation
	Events       []*botrelay.MessageEvent
}

func apiState(t *testing.T, api *testrig.API) state {
	t.Helper()
	var s state
	api.Do(http.MethodGet, "/api/v1/bots", nil, http.StatusOK, &s.Bots)
	for _, b := range s.Bots {
		delete(b, "state")
	}
	s.Users = api.Do(http.MethodGet, "/api/v1/users", nil, http.StatusOK, nil)
	s.Skills = api.Do(http.MethodGet, "/api/v1/skills", nil, http.StatusOK, nil)
	s.Profiles = api.Do(http.MethodGet, "/api/v1/profiles", nil, http.StatusOK, nil)
	s.Canned = api.Do(http.MethodGet, "/api/v1/canned-replies", nil, http.StatusOK, nil)
	return s
}

func conversations(t *testing.T, st *sqlstore.Store) []conversation {
	t.Helper()
	ctx := context.Background()
	convs, err := st.Conversations(ctx, "1000", botrelay.ConversationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []conversation
	for _, c := range convs {
		var events []*botrelay.MessageEvent
		for _, d := range c.Dialogs {
			ev, err := st.Events(ctx, c.ID, d.ID, 0, 10000)
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, ev...)
		}
		out = append(out, conversation{Conversation: c, Events: events})
	}
	return out
}

func waitOnline(t *testing.T, api *testrig.API, botID string) {
	t.Helper()
	testrig.Eventually(t, 30*time.Second, "bot "+botID+" online", func() bool {
		var st struct {
			State string `json:"state"`
		}
		api.Do(http.MethodGet, "/api/v1/bots/"+botID+"/status", nil, http.StatusOK, &st)
		return st.State == "ONLINE"
	})
}

// source runs a server on src, gives it users, a started function bot and
// two consumer conversations with the demo bot (one handed over to skill
// human), backs it up while it runs, and returns the backup and the state
// it holds.
func source(t *testing.T, src place) (string, state, map[string]int) {
	t.Helper()
	base, stop := serve(t, src)
	api := testrig.LoginAPI(t, base, "admin", password)
	api.Do(http.MethodPost, "/api/v1/users", map[string]any{"type": "HUMAN", "loginName": "alice", "nickname": "Alice",
		"profileId": api.ID("/api/v1/profiles", "Agent"), "password": "Alice-pass-42", "messagingSlots": 3,
		"skillIds": []json.Number{api.ID("/api/v1/skills", "human")}}, http.StatusCreated, nil)
	api.Do(http.MethodPost, "/api/v1/canned-replies", map[string]any{"title": "Refund", "text": "Refunds take 5 days."}, http.StatusCreated, nil)
	var user struct {
		User struct {
			ID json.Number `json:"id"`
		} `json:"user"`
	}
	api.Do(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": "echo-bot", "profileId": api.ID("/api/v1/profiles", "Agent"),
		"messagingSlots": 10, "skillIds": []json.Number{api.ID("/api/v1/skills", "bot")}}, http.StatusCreated, &user)
	var bot struct {
		ID string `json:"id"`
	}
	api.Do(http.MethodPost, "/api/v1/bots", map[string]any{"name": "Echo", "vendor": "function", "userId": user.User.ID,
		"settings": map[string]any{"vendor": map[string]any{"code": `function lambda(i, cb) { cb(null, { messages: ["Echo: " + i.payload.message] }); }`},
			"errorHandling": map[string]any{"escalationSkill": "human"}}}, http.StatusCreated, &bot)
	api.Do(http.MethodPost, "/api/v1/bots/"+bot.ID+"/start", nil, http.StatusAccepted, nil)
	waitOnline(t, api, bot.ID)

	// Conversations: the demo bot and Echo share skill bot; whoever takes
	// it answers. One consumer asks for an agent: the demo bot hands over.
	for i, text := range []string{"hello", "agent"} {
		c := testrig.NewConsumer(t, base, "1000")
		c.Open("bot")
		c.Say(text)
		c.WaitFor(20*time.Second, fmt.Sprintf("an answer to %q", text), func() bool { return len(c.AgentTexts()) > 0 })
		if i == 1 {
			// Whoever answered, the second conversation has at least the
			// consumer's message and an answer stored.
			c.WaitFor(20*time.Second, "the answers to settle", func() bool { return len(c.AgentTexts()) >= 1 })
		}
	}
	st := src.store(t)
	defer st.Close()
	testrig.Eventually(t, 20*time.Second, "two conversations stored with their answers", func() bool {
		cs := conversations(t, st)
		if len(cs) != 2 {
			return false
		}
		for _, c := range cs {
			if len(c.Events) < 2 {
				return false
			}
		}
		return true
	})
	// An uploaded file: bytes that are not text must come back intact.
	if err := st.PutHubFile(context.Background(), &botrelay.HubFile{AccountID: "1000", Path: uploadPath,
		ConsumerID: "c", Content: uploadContent()}); err != nil {
		t.Fatal(err)
	}
	want := apiState(t, api)
	want.Conversations = conversations(t, st)

	// The backup, taken while the server runs.
	key, _, err := secretbox.LoadKey("", src.data)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "botrelay.backup")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := backup.Backup(context.Background(), src.db(), f, backup.KeyFingerprint(key))
	if err != nil {
		t.Fatalf("backup of a running server on %s: %v", src.name, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	stop()
	if sum.Rows["conversations"] != 2 || sum.Rows["bots"] != 2 || sum.Rows["users"] != 4 || sum.Rows["accounts"] != 1 {
		t.Errorf("backup rows %v: want 1 account, 4 users, 2 bots, 2 conversations", sum.Rows)
	}
	if sum.Header.MasterKey != backup.KeyFingerprint(key) || sum.Header.Engine != string(src.db().Dialect) {
		t.Errorf("backup header %+v", sum.Header)
	}
	return file, want, sum.Rows
}

// restoreInto restores file into dst (with the source's master key copied
// into its data folder) and checks that it holds want: the store's
// conversations before any server runs, then the API of a server started
// on it, whose bots come online (their sealed credentials open with the
// key) and which hands out new ids after the restored ones.
func restoreInto(t *testing.T, src, dst place, file string, want state, rows map[string]int) {
	t.Helper()
	keyData, err := os.ReadFile(filepath.Join(src.data, secretbox.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst.data, secretbox.KeyFileName), keyData, 0o600); err != nil {
		t.Fatal(err)
	}
	key, _, err := secretbox.LoadKey("", dst.data)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, err := backup.Restore(context.Background(), f, dst.db(), func(fp string) error {
		if fp != backup.KeyFingerprint(key) {
			return fmt.Errorf("key mismatch")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("restore into %s: %v", dst.name, err)
	}
	if fmt.Sprint(sum.Rows) != fmt.Sprint(rows) {
		t.Errorf("restored rows %v, backed up %v", sum.Rows, rows)
	}
	st := dst.store(t)
	gotConvs := conversations(t, st)
	if hf, err := st.HubFile(context.Background(), "1000", uploadPath); err != nil || !bytes.Equal(hf.Content, uploadContent()) {
		t.Errorf("uploaded file on %s after restore: %v, %v", dst.name, hf, err)
	}
	st.Close()
	if g, w := mustJSON(t, gotConvs), mustJSON(t, want.Conversations); g != w {
		t.Errorf("conversations on %s differ:\n got %s\nwant %s", dst.name, g, w)
	}

	base, _ := serve(t, dst)
	api := testrig.LoginAPI(t, base, "admin", password)
	got := apiState(t, api)
	for name, pair := range map[string][2]any{"bots": {got.Bots, want.Bots}, "users": {got.Users, want.Users},
		"skills": {got.Skills, want.Skills}, "profiles": {got.Profiles, want.Profiles}, "canned replies": {got.Canned, want.Canned}} {
		if g, w := mustJSON(t, pair[0]), mustJSON(t, pair[1]); g != w {
			t.Errorf("%s on %s differ:\n got %s\nwant %s", name, dst.name, g, w)
		}
	}
	for _, b := range got.Bots {
		if b["started"] == true {
			waitOnline(t, api, b["id"].(string))
		}
	}
	testrig.LoginAPI(t, base, "alice", "Alice-pass-42")
	var created struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	api.Do(http.MethodPost, "/api/v1/users", map[string]any{"type": "HUMAN", "loginName": "bob", "profileId": api.ID("/api/v1/profiles", "Agent"),
		"password": "Bob-pass-4242"}, http.StatusCreated, &created)
	if created.User.ID <= int64(rows["users"]) {
		t.Errorf("a user created after the restore got id %d, not after the restored ones", created.User.ID)
	}
}

const uploadPath = "11111111-2222-3333-4444-555555555555/restored.png"

// uploadContent is every byte value, after a PNG signature.
func uploadContent() []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	for i := range 256 {
		b = append(b, byte(i))
	}
	return b
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	// Numbers decoded into any are float64; normalise through a round trip.
	var x any
	_ = json.Unmarshal(b, &x)
	b, _ = json.Marshal(x)
	return string(b)
}

// TestRoundTripSQLite: a running server's SQLite backup restores into a
// new data folder with the same bots, users, skills, profiles and
// conversations — and into PostgreSQL when BOTRELAY_TEST_POSTGRES is set.
func TestRoundTripSQLite(t *testing.T) {
	src := sqlitePlace(t, "sqlite source")
	file, want, rows := source(t, src)
	t.Run("into a new data folder", func(t *testing.T) {
		restoreInto(t, src, sqlitePlace(t, "sqlite target"), file, want, rows)
	})
	t.Run("into PostgreSQL", func(t *testing.T) {
		restoreInto(t, src, postgresPlace(t, "postgres target"), file, want, rows)
	})
}

// TestRoundTripPostgres: the same from a server on PostgreSQL into a new
// schema, and into SQLite.
func TestRoundTripPostgres(t *testing.T) {
	src := postgresPlace(t, "postgres source")
	file, want, rows := source(t, src)
	t.Run("into a new database", func(t *testing.T) {
		restoreInto(t, src, postgresPlace(t, "postgres target"), file, want, rows)
	})
	t.Run("into a new data folder", func(t *testing.T) {
		restoreInto(t, src, sqlitePlace(t, "sqlite target"), file, want, rows)
	})
}

// TestRestoreRefuses: a cut-short or damaged backup, a target that already
// holds an account and a key the backup was not sealed with all stop the
// restore with a message that says what to do, and leave the target
// without an account.
func TestRestoreRefuses(t *testing.T) {
	src := sqlitePlace(t, "source")
	base, stop := serve(t, src)
	_ = base
	stop()
	var buf bytes.Buffer
	if _, err := backup.Backup(context.Background(), src.db(), &buf, "abc"); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	ok := func(string) error { return nil }
	restore := func(data []byte, dst place, check backup.KeyCheck) error {
		_, err := backup.Restore(context.Background(), bytes.NewReader(data), dst.db(), check)
		return err
	}
	noAccount := func(dst place) {
		t.Helper()
		st := dst.store(t)
		defer st.Close()
		if _, err := st.Account(context.Background(), "1000"); err == nil {
			t.Errorf("%s holds the account after a refused restore", dst.name)
		}
	}

	// Cut short: decompress, drop the end line, compress again.
	zr, err := gzip.NewReader(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	lines := strings.Split(strings.TrimSpace(string(plain)), "\n")
	var cut bytes.Buffer
	zw := gzip.NewWriter(&cut)
	zw.Write([]byte(strings.Join(lines[:len(lines)-1], "\n") + "\n"))
	zw.Close()
	dst := sqlitePlace(t, "cut")
	if err := restore(cut.Bytes(), dst, ok); err == nil || !strings.Contains(err.Error(), "the backup is incomplete (no end line): it was cut short") {
		t.Errorf("cut-short backup: %v", err)
	}
	noAccount(dst)

	// A row count that does not match the end line.
	var short bytes.Buffer
	zw = gzip.NewWriter(&short)
	var kept []string
	dropped := false
	inPermissions := false
	for _, l := range lines {
		if strings.HasPrefix(l, "{") {
			inPermissions = strings.Contains(l, `"table":"profile_permissions"`)
		} else if inPermissions && !dropped {
			dropped = true // a profile's permission: nothing refers to it
			continue
		}
		kept = append(kept, l)
	}
	zw.Write([]byte(strings.Join(kept, "\n") + "\n"))
	zw.Close()
	dst = sqlitePlace(t, "short")
	if err := restore(short.Bytes(), dst, ok); err == nil || !strings.Contains(err.Error(), "rows but has") {
		t.Errorf("backup with a missing row: %v", err)
	}
	noAccount(dst)

	if err := restore([]byte("not a backup"), sqlitePlace(t, "junk"), ok); err == nil || err.Error() != "this is not a botrelay backup (not gzip data)" {
		t.Errorf("junk: %v", err)
	}

	// A target with an account: the source itself.
	if err := restore(full, src, ok); err == nil || err.Error() != "the target database already holds an account; restore into a new data folder or an empty database" {
		t.Errorf("restore over an account: %v", err)
	}

	// The key check sees the backup's fingerprint and can stop it.
	dst = sqlitePlace(t, "key")
	var seen string
	err = restore(full, dst, func(fp string) error { seen = fp; return fmt.Errorf("wrong key") })
	if err == nil || err.Error() != "wrong key" || seen != "abc" {
		t.Errorf("key check: %v (saw %q)", err, seen)
	}
	if _, err := os.Stat(filepath.Join(dst.data, "botrelay.db")); err == nil {
		t.Error("a refused key left a database behind")
	}
}

// TestRestoreOlderSchema: a backup taken at an older schema version loads
// into that schema and is then migrated to this botrelay's newest one.
func TestRestoreOlderSchema(t *testing.T) {
	ctx := context.Background()
	latest, err := sqlstore.LatestSchemaVersion(sqlstore.SQLite)
	if err != nil || latest < 2 {
		t.Fatalf("latest schema %d, %v", latest, err)
	}
	src := sqlitePlace(t, "old")
	old, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: src.db().DSN, MigrateTo: latest - 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := old.SchemaVersion(ctx); v != latest-1 {
		t.Fatalf("MigrateTo %d left schema %d", latest-1, v)
	}
	if _, err := old.DB().ExecContext(ctx, `INSERT INTO accounts (id, name, created_at) VALUES ('1000', 'Old', 1700000000000)`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	var buf bytes.Buffer
	sum, err := backup.Backup(ctx, src.db(), &buf, "")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Header.Schema != latest-1 {
		t.Errorf("backup of schema %d says %d", latest-1, sum.Header.Schema)
	}
	dst := sqlitePlace(t, "new")
	if _, err := backup.Restore(ctx, &buf, dst.db(), nil); err != nil {
		t.Fatal(err)
	}
	st := dst.store(t)
	defer st.Close()
	if v, _ := st.SchemaVersion(ctx); v != latest {
		t.Errorf("restored schema %d, want %d", v, latest)
	}
	if a, err := st.Account(ctx, "1000"); err != nil || a.Name != "Old" {
		t.Errorf("restored account %+v, %v", a, err)
	}
}
