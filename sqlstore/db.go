// Package sqlstore implements the botrelay storage contracts on database/sql,
// with one set of queries for two engines: SQLite (modernc.org/sqlite, pure
// Go, the default) and PostgreSQL (pgx/v5).
//
// Queries are written once, PostgreSQL-style with $N placeholders; on SQLite
// they are rewritten to ?N, which SQLite binds by number (its own $N would be
// a named parameter bound by first appearance). Times are stored as Unix
// milliseconds in BIGINT columns so both engines scan them alike. Driver
// errors are classified here and turned into botrelay errors, so no driver
// text reaches callers.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/botrelay/botrelay"
)

var _ botrelay.Store = (*Store)(nil)

// Dialect names an SQL engine.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options configure Open.
type Options struct {
	// Dialect selects the engine: SQLite or Postgres.
	Dialect Dialect
	// DSN is a file path for SQLite, or a postgres:// URL for PostgreSQL.
	DSN string
	// Now returns the current time; tests inject a clock. Default: time.Now.
	Now func() time.Time
	// Logger receives migration progress. Default: slog.Default().
	Logger *slog.Logger
	// MigrateTo stops the migrations at this schema version; 0 applies
	// them all. A restore loads a backup into the schema it was taken
	// from, then reopens the store to apply the rest.
	MigrateTo int
	// IdleTxTimeout, on PostgreSQL, makes the server end a session that
	// stays idle inside a transaction this long (idle_in_transaction_
	// session_timeout). Cluster mode sets it: a node paused in the middle
	// of a fenced write would otherwise hold its lease row locked, and no
	// other node could take the lease over, until it woke up.
	IdleTxTimeout time.Duration
}

// Store is a botrelay.Store on an SQL database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect Dialect
	now     func() time.Time
	log     *slog.Logger
	// batch group-commits the hot writes (batch.go).
	batch *batcher
	// migrateTo is Options.MigrateTo.
	migrateTo int
	// commits is told about each committed write (ObserveCommits).
	commits atomic.Pointer[CommitObserver]
}

// Open connects to the database, checks the connection and applies every
// pending migration. The returned Store must be closed.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var (
		db  *sql.DB
		err error
	)
	switch o.Dialect {
	case SQLite:
		if err := prepareSQLiteFile(o.DSN); err != nil {
			return nil, err
		}
		db, err = sql.Open("sqlite", sqliteDSN(o.DSN))
		if err == nil {
			// SQLite has one writer at a time; a few connections let reads
			// proceed while a write waits on the busy timeout.
			db.SetMaxOpenConns(4)
			db.SetMaxIdleConns(4)
			db.SetConnMaxLifetime(0)
		}
	case Postgres:
		db, err = sql.Open("pgx", withIdleTxTimeout(o.DSN, o.IdleTxTimeout))
		if err == nil {
			db.SetMaxOpenConns(16)
			db.SetMaxIdleConns(8)
			db.SetConnMaxIdleTime(5 * time.Minute)
		}
	default:
		return nil, fmt.Errorf("sqlstore: unknown dialect %q", o.Dialect)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", o.Dialect, err)
	}
	s := &Store{db: db, dialect: o.Dialect, now: o.Now, log: o.Logger, migrateTo: o.MigrateTo}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: connect to %s: %w", o.Dialect, redactDriverError(err))
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if o.Dialect == SQLite {
		// The -wal and -shm files exist now; an old loose one is tightened.
		if err := tightenSQLiteFiles(o.DSN); err != nil {
			db.Close()
			return nil, err
		}
	}
	if s.batch, err = newBatcher(ctx, s); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// sqliteDSN turns a file path into a modernc.org/sqlite DSN with the settings
// botrelay relies on: WAL journal, synchronous=FULL so a commit survives a
// power loss, foreign keys on, a busy timeout instead of immediate "database
// is locked" errors, and IMMEDIATE transactions so a writer never has to
// upgrade a read lock (the usual cause of deadlocked writers).
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Dialect reports the engine in use.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB exposes the connection pool for packages that keep their own tables in
// the same database (they must use Rebind for their queries).
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close waits for in-flight queries and closes the pool.
func (s *Store) Close() error {
	if s.batch != nil {
		s.batch.close()
	}
	return s.db.Close()
}

// Rebind rewrites a PostgreSQL-style query for the store's engine.
func (s *Store) Rebind(query string) string {
	if s.dialect == SQLite && strings.Contains(query, "$") {
		return rebindCached(query)
	}
	return query
}

// rebound caches rewritten queries: the store's queries are mostly
// constants run on every message, and rewriting one cost a microsecond and
// an allocation each time. A few queries are built with varying lists, so
// the cache stops growing at maxRebound entries.
var (
	rebound  sync.Map
	reboundN atomic.Int32
)

const maxRebound = 1024

func rebindCached(query string) string {
	if v, ok := rebound.Load(query); ok {
		return v.(string)
	}
	r := rebindSQLite(query)
	if reboundN.Load() < maxRebound {
		if _, loaded := rebound.LoadOrStore(query, r); !loaded {
			reboundN.Add(1)
		}
	}
	return r
}

// rebindSQLite turns $N into ?N outside quoted strings and identifiers.
func rebindSQLite(q string) string {
	if !strings.Contains(q, "$") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q))
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// querier is what both *sql.DB and *sql.Tx offer; the table code runs on
// either through a conn.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs rebound queries on a querier.
type conn struct {
	q querier
	s *Store
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.q.ExecContext(ctx, c.s.Rebind(query), args...)
}

func (c conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.q.QueryContext(ctx, c.s.Rebind(query), args...)
}

func (c conn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, c.s.Rebind(query), args...)
}

// pool returns a conn on the connection pool.
func (s *Store) pool() conn { return conn{q: s.db, s: s} }

// inTx runs fn in a transaction, committing when fn returns nil. A write
// whose context carries a fence token (internal/fence) first checks that
// its lease is still the writer's (checkFence).
func (s *Store) inTx(ctx context.Context, fn func(c conn) error) error {
	start := time.Now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	c := conn{q: tx, s: s}
	if err := checkFence(ctx, c); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := fn(c); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.observeCommit(1, time.Since(start))
	return nil
}

// violation is the kind of constraint a driver error reports.
type violation int

const (
	noViolation violation = iota
	uniqueViolation
	foreignKeyViolation
	checkViolation
)

// classify reads the constraint kind out of a driver error, for either engine.
func classify(err error) violation {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return foreignKeyViolation
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return checkViolation
		}
		return noViolation
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return uniqueViolation
		case "23503":
			return foreignKeyViolation
		case "23514", "23502":
			return checkViolation
		}
	}
	return noViolation
}

// normalize turns a driver error into a botrelay error: sql.ErrNoRows becomes
// ENOTFOUND with notFound's text, a unique violation ECONFLICT with
// conflict's text, a foreign-key or check violation EINVALID with invalid's
// text. Anything else is wrapped with op and stays internal.
func normalize(err error, op string, notFound, conflict, invalid string) error {
	if err == nil {
		return nil
	}
	var be *botrelay.Error
	if errors.As(err, &be) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) && notFound != "" {
		return botrelay.Errorf(botrelay.ENOTFOUND, "%s", notFound)
	}
	switch classify(err) {
	case uniqueViolation:
		if conflict != "" {
			return botrelay.Errorf(botrelay.ECONFLICT, "%s", conflict)
		}
	case foreignKeyViolation, checkViolation:
		if invalid != "" {
			return botrelay.Errorf(botrelay.EINVALID, "%s", invalid)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// redactDriverError keeps a connection error's meaning without the DSN, which
// may carry a password. pgx errors name host and user, never the password, so
// only the type is checked here.
func redactDriverError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	return err
}

// millis converts a time to stored Unix milliseconds; the zero time is 0.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMillis converts stored Unix milliseconds back; 0 is the zero time.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// nowMillis returns the store clock's time, truncated to what is stored.
func (s *Store) nowTime() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// withIdleTxTimeout adds idle_in_transaction_session_timeout to a
// PostgreSQL DSN (a URL or key=value pairs) as a run-time parameter.
func withIdleTxTimeout(dsn string, d time.Duration) string {
	if d <= 0 {
		return dsn
	}
	ms := fmt.Sprint(d.Milliseconds())
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("idle_in_transaction_session_timeout", ms)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " idle_in_transaction_session_timeout=" + ms
}
