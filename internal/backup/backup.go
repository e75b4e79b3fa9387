// Package backup writes a botrelay database to a portable file and loads
// such a file into an empty database, on SQLite and PostgreSQL alike (a
// backup of one engine restores into the other).
//
// A backup is a consistent snapshot: on SQLite it is read from a copy made
// with VACUUM INTO, on PostgreSQL inside one REPEATABLE READ, READ ONLY
// transaction, so a running server can keep writing meanwhile. The file is
// gzip-compressed JSON lines: a header (format, schema version, source
// engine, time, the master key's fingerprint), then for each table a line
// naming it and its columns followed by one JSON array per row, and an end
// line with every table's row count, which a restore checks, so a truncated
// file is refused.
//
// The master key is never in a backup: the bots' vendor credentials in it
// stay sealed. A restore needs the same key (the fingerprint says which) in
// the target's data folder or in BOTRELAY_MASTER_KEY.
package backup

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/botrelay/botrelay/sqlstore"
)

// Format names the file format in the header; Version is its version.
const (
	Format  = "botrelay-backup"
	Version = 1
)

// table is one table of the schema, in an order that satisfies the foreign
// keys, with the columns that order its rows and its auto-assigned column.
type table struct {
	name    string
	orderBy string
	serial  string
}

// tables lists every table a backup holds. A table in the database that is
// not here (a newer migration this list missed) makes Backup fail rather
// than leave it out; schema_migrations is rebuilt by the restore.
var tables = []table{
	{"accounts", "id", ""},
	{"profiles", "id", "id"},
	{"profile_permissions", "profile_id, permission", ""},
	{"skills", "id", "id"},
	{"users", "id", "id"},
	{"user_skills", "user_id, skill_id", ""},
	{"api_keys", "app_key", ""},
	{"api_sessions", "id_hash", ""},
	{"api_tokens", "token_hash", ""},
	{"bots", "created_at, id", ""},
	{"conversations", "created_at, id", ""},
	{"conversation_dialogs", "conversation_id, position", ""},
	{"conversation_participants", "conversation_id, position", ""},
	{"conversation_events", "dialog_id, sequence", ""},
	{"conversation_changes", "seq", "seq"},
	{"bot_conversations", "bot_id, conversation_id", ""},
	{"bot_state_events", "id", "id"},
	{"bot_errors", "seq", "seq"},
	{"surveys", "seq", "seq"},
	{"agent_sessions", "bearer_hash", ""},
	{"hub_files", "account_id, path", ""},
	{"hub_keys", "name", ""},
	{"bot_stats", "bot_id, resolution, bucket, metric", ""},
	{"canned_replies", "id", "id"},
	{"public_api_commands", "id", "id"},
	{"conversation_sdes", "conversation_id", ""},
	{"public_api_tokens", "token_hash", ""},
	{"webhooks", "id", "id"},
	{"webhook_deliveries", "id", "id"},
	{"bot_outcomes", "bot_id, conversation_id", ""},        // 015_standins
	{"bot_fallback_states", "bot_id, conversation_id", ""}, // 015_standins
}

// internalTables are kept by the engine or rebuilt by the store, or hold
// only the running state of a cluster (membership and leases, which a
// restored database must not inherit).
var internalTables = []string{"schema_migrations", "sqlite_sequence", "cluster_nodes", "cluster_leases"}

// Database names a database: an engine and its DSN (a file path for
// SQLite, a postgres:// URL).
type Database struct {
	Dialect sqlstore.Dialect
	DSN     string
}

// Header is the first line of a backup.
type Header struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	Schema    int    `json:"schema"`
	Engine    string `json:"engine"`
	CreatedAt string `json:"createdAt"`
	// MasterKey is the SHA-256 fingerprint of the master key the bots'
	// secrets are sealed with, or empty when none was found.
	MasterKey string `json:"masterKeySha256,omitempty"`
}

// blobValue is a byte-string column's value in a row line.
type blobValue struct {
	Base64 string `json:"base64"`
}

type tableLine struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
}

type endLine struct {
	End  bool           `json:"end"`
	Rows map[string]int `json:"rows"`
}

// Summary is what a backup holds or a restore loaded.
type Summary struct {
	Header Header
	Rows   map[string]int
}

// KeyFingerprint is the SHA-256 of a master key as hex: it tells keys apart
// without revealing them.
func KeyFingerprint(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:])
}

// Backup writes a consistent snapshot of db to w. keyFingerprint is recorded
// in the header (see KeyFingerprint).
func Backup(ctx context.Context, db Database, w io.Writer, keyFingerprint string) (Summary, error) {
	var (
		tx      *sql.Tx
		cleanup func()
	)
	switch db.Dialect {
	case sqlstore.SQLite:
		snap, done, err := sqliteSnapshot(ctx, db.DSN)
		if err != nil {
			return Summary{}, err
		}
		defer done()
		if tx, err = snap.BeginTx(ctx, nil); err != nil {
			return Summary{}, fmt.Errorf("read the snapshot: %w", err)
		}
		cleanup = func() { _ = tx.Rollback() }
	case sqlstore.Postgres:
		pg, err := sql.Open("pgx", db.DSN)
		if err != nil {
			return Summary{}, fmt.Errorf("open PostgreSQL: %w", err)
		}
		defer pg.Close()
		if tx, err = pg.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}); err != nil {
			return Summary{}, fmt.Errorf("connect to PostgreSQL: %w", err)
		}
		cleanup = func() { _ = tx.Rollback() }
	default:
		return Summary{}, fmt.Errorf("unknown database engine %q", db.Dialect)
	}
	defer cleanup()
	return export(ctx, tx, db.Dialect, w, keyFingerprint)
}

// sqliteSnapshot copies the SQLite database at path with VACUUM INTO into a
// temporary file and opens the copy. VACUUM INTO reads the database in one
// transaction, so the copy is consistent while a server writes on.
func sqliteSnapshot(ctx context.Context, path string) (*sql.DB, func(), error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("no SQLite database at %s: %w", path, errors.Unwrap(err))
	}
	live, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, nil, err
	}
	defer live.Close()
	dir, err := os.MkdirTemp("", "botrelay-backup-")
	if err != nil {
		return nil, nil, err
	}
	done := func() { _ = os.RemoveAll(dir) }
	snapPath := filepath.Join(dir, "snapshot.db")
	if _, err := live.ExecContext(ctx, `VACUUM INTO ?`, snapPath); err != nil {
		done()
		return nil, nil, fmt.Errorf("snapshot %s: %w", path, err)
	}
	snap, err := sql.Open("sqlite", "file:"+snapPath)
	if err != nil {
		done()
		return nil, nil, err
	}
	return snap, func() { snap.Close(); done() }, nil
}

// listTables returns the tables of the database's current schema.
func listTables(ctx context.Context, q querier, d sqlstore.Dialect) ([]string, error) {
	query := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if d == sqlstore.Postgres {
		query = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func export(ctx context.Context, tx *sql.Tx, d sqlstore.Dialect, w io.Writer, keyFingerprint string) (Summary, error) {
	names, err := listTables(ctx, tx, d)
	if err != nil {
		return Summary{}, fmt.Errorf("list tables: %w", err)
	}
	if !slices.Contains(names, "schema_migrations") {
		return Summary{}, errors.New("this is not a botrelay database (it has no schema_migrations table)")
	}
	for _, n := range names {
		if !slices.ContainsFunc(tables, func(t table) bool { return t.name == n }) && !slices.Contains(internalTables, n) {
			return Summary{}, fmt.Errorf("the database has a table %q that this botrelay does not know; back it up with the botrelay that created it", n)
		}
	}
	var schema int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&schema); err != nil {
		return Summary{}, fmt.Errorf("read the schema version: %w", err)
	}
	if latest, err := sqlstore.LatestSchemaVersion(d); err != nil {
		return Summary{}, err
	} else if schema > latest {
		return Summary{}, fmt.Errorf("the database is at schema version %d but this botrelay knows only %d; use a newer botrelay", schema, latest)
	}

	zw := gzip.NewWriter(w)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	sum := Summary{
		Header: Header{Format: Format, Version: Version, Schema: schema, Engine: string(d),
			CreatedAt: time.Now().UTC().Format(time.RFC3339), MasterKey: keyFingerprint},
		Rows: map[string]int{},
	}
	if err := enc.Encode(sum.Header); err != nil {
		return Summary{}, err
	}
	for _, t := range tables {
		if !slices.Contains(names, t.name) {
			continue // a table of a later migration than the database's
		}
		n, err := exportTable(ctx, tx, t, enc)
		if err != nil {
			return Summary{}, fmt.Errorf("back up %s: %w", t.name, err)
		}
		sum.Rows[t.name] = n
	}
	if err := enc.Encode(endLine{End: true, Rows: sum.Rows}); err != nil {
		return Summary{}, err
	}
	if err := zw.Close(); err != nil {
		return Summary{}, err
	}
	return sum, nil
}

func exportTable(ctx context.Context, tx *sql.Tx, t table, enc *json.Encoder) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT * FROM `+t.name+` ORDER BY `+t.orderBy)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return 0, err
	}
	cols := make([]string, len(types))
	isBool := make([]bool, len(types))
	isBlob := make([]bool, len(types))
	for i, ct := range types {
		cols[i] = ct.Name()
		typ := strings.ToUpper(ct.DatabaseTypeName())
		isBool[i] = strings.Contains(typ, "BOOL")
		isBlob[i] = strings.Contains(typ, "BLOB") || strings.Contains(typ, "BYTEA")
	}
	if err := enc.Encode(tableLine{Table: t.name, Columns: cols}); err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		out := make([]any, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case nil, string, bool:
				out[i] = x
			case int64:
				if isBool[i] {
					out[i] = x != 0
				} else {
					out[i] = x
				}
			case []byte:
				if isBlob[i] {
					// Bytes are not text: {"base64": …} carries them intact.
					out[i] = blobValue{Base64: base64.StdEncoding.EncodeToString(x)}
				} else {
					out[i] = string(x)
				}
			default:
				return n, fmt.Errorf("column %s holds a %T, which a backup cannot carry", cols[i], v)
			}
		}
		if err := enc.Encode(out); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
