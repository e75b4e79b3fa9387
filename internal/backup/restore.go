package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/botrelay/botrelay/sqlstore"
)

// readHeader reads the header of the backup in r and returns it, a scanner
// positioned after it and the function that closes the decompressor.
func readHeader(r io.Reader) (Header, *bufio.Scanner, func() error, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return Header{}, nil, nil, errors.New("this is not a botrelay backup (not gzip data)")
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	if !sc.Scan() {
		return Header{}, nil, nil, fmt.Errorf("this is not a botrelay backup (no header): %v", sc.Err())
	}
	var h Header
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Format != Format {
		return Header{}, nil, nil, errors.New("this is not a botrelay backup (bad header)")
	}
	if h.Version != Version {
		return Header{}, nil, nil, fmt.Errorf("backup format version %d is not supported by this botrelay (it reads %d)", h.Version, Version)
	}
	return h, sc, zr.Close, nil
}

// KeyCheck decides whether the master key available to the target fits the
// backup's: it gets the backup's fingerprint and returns an error to stop
// the restore.
type KeyCheck func(backupFingerprint string) error

// Restore loads the backup in r into db, which must hold no account yet (a
// new data folder, an empty database or PostgreSQL schema). It creates the
// schema the backup was taken at, loads every row in one transaction,
// checks the row counts against the backup's, and then applies the newer
// migrations of this botrelay. checkKey runs before anything is written.
func Restore(ctx context.Context, r io.Reader, db Database, checkKey KeyCheck) (Summary, error) {
	h, sc, closeZ, err := readHeader(r)
	if err != nil {
		return Summary{}, err
	}
	defer closeZ()
	latest, err := sqlstore.LatestSchemaVersion(db.Dialect)
	if err != nil {
		return Summary{}, err
	}
	if h.Schema > latest || h.Schema < 1 {
		return Summary{}, fmt.Errorf("the backup is at schema version %d but this botrelay knows 1 to %d; restore it with a newer botrelay", h.Schema, latest)
	}
	if checkKey != nil {
		if err := checkKey(h.MasterKey); err != nil {
			return Summary{}, err
		}
	}
	if err := checkEmpty(ctx, db); err != nil {
		return Summary{}, err
	}
	quiet := slog.New(slog.DiscardHandler)
	st, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: db.Dialect, DSN: db.DSN, MigrateTo: h.Schema, Logger: quiet})
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Header: h, Rows: map[string]int{}}
	err = load(ctx, st, sc, &sum)
	if cerr := st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return Summary{}, err
	}
	// The newer migrations of this botrelay, over the loaded data.
	st, err = sqlstore.Open(ctx, sqlstore.Options{Dialect: db.Dialect, DSN: db.DSN, Logger: quiet})
	if err != nil {
		return Summary{}, fmt.Errorf("upgrade the restored database: %w", err)
	}
	return sum, st.Close()
}

// checkEmpty refuses a database that holds an account.
func checkEmpty(ctx context.Context, db Database) error {
	var (
		conn *sql.DB
		err  error
	)
	switch db.Dialect {
	case sqlstore.SQLite:
		if fi, err := os.Stat(db.DSN); errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0) {
			return nil
		}
		conn, err = sql.Open("sqlite", "file:"+db.DSN+"?_pragma=busy_timeout(10000)")
	case sqlstore.Postgres:
		conn, err = sql.Open("pgx", db.DSN)
	default:
		return fmt.Errorf("unknown database engine %q", db.Dialect)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	names, err := listTables(ctx, conn, db.Dialect)
	if err != nil {
		return fmt.Errorf("read the target database: %w", err)
	}
	if !slices.Contains(names, "accounts") {
		return nil
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return errors.New("the target database already holds an account; restore into a new data folder or an empty database")
	}
	return nil
}

// loader loads the lines after a backup's header into one transaction.
type loader struct {
	ctx    context.Context
	st     *sqlstore.Store
	tx     *sql.Tx
	sum    *Summary
	cur    *table
	cols   []string
	insert *sql.Stmt
	ended  bool
	want   map[string]int
}

func load(ctx context.Context, st *sqlstore.Store, sc *bufio.Scanner, sum *Summary) error {
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	l := &loader{ctx: ctx, st: st, tx: tx, sum: sum}
	defer l.closeInsert()
	for sc.Scan() {
		if err := l.line(sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the backup: %w", err)
	}
	if err := l.finish(); err != nil {
		return err
	}
	return tx.Commit()
}

func (l *loader) closeInsert() {
	if l.insert != nil {
		l.insert.Close()
		l.insert = nil
	}
}

// line handles one line: a row, a table line or the end line.
func (l *loader) line(line []byte) error {
	if l.ended {
		return errors.New("the backup has data after its end line")
	}
	if len(line) > 0 && line[0] == '[' {
		return l.row(line)
	}
	var probe struct {
		Table string `json:"table"`
		End   bool   `json:"end"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		return errors.New("the backup has a damaged line")
	}
	if probe.End {
		var e endLine
		if err := json.Unmarshal(line, &e); err != nil {
			return errors.New("the backup's end line is damaged")
		}
		l.want, l.ended = e.Rows, true
		return nil
	}
	var tl tableLine
	if err := json.Unmarshal(line, &tl); err != nil {
		return errors.New("the backup has a damaged table line")
	}
	i := slices.IndexFunc(tables, func(t table) bool { return t.name == tl.Table })
	if i < 0 {
		return fmt.Errorf("the backup has a table %q that this botrelay does not know", tl.Table)
	}
	l.closeInsert()
	l.cur, l.cols = &tables[i], tl.Columns
	var err error
	if l.insert, err = prepareInsert(l.ctx, l.tx, l.st, l.cur.name, l.cols); err != nil {
		return err
	}
	l.sum.Rows[l.cur.name] = 0
	return nil
}

// row inserts one row of the current table.
func (l *loader) row(line []byte) error {
	if l.insert == nil {
		return errors.New("the backup has a row before any table")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var raw []any
	if err := dec.Decode(&raw); err != nil || len(raw) != len(l.cols) {
		return fmt.Errorf("a row of %s is damaged", l.cur.name)
	}
	args, err := values(raw)
	if err != nil {
		return fmt.Errorf("a row of %s: %w", l.cur.name, err)
	}
	if _, err := l.insert.ExecContext(l.ctx, args...); err != nil {
		return fmt.Errorf("restore a row of %s: %w", l.cur.name, err)
	}
	l.sum.Rows[l.cur.name]++
	return nil
}

// finish checks the row counts against the end line and, on PostgreSQL,
// continues the identity columns after the restored ids.
func (l *loader) finish() error {
	if !l.ended {
		return errors.New("the backup is incomplete (no end line): it was cut short")
	}
	for name, n := range l.want {
		if l.sum.Rows[name] != n {
			return fmt.Errorf("the backup's %s should have %d rows but has %d", name, n, l.sum.Rows[name])
		}
	}
	if l.st.Dialect() != sqlstore.Postgres {
		return nil
	}
	for _, t := range tables {
		if t.serial == "" || l.sum.Rows[t.name] == 0 {
			continue
		}
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), (SELECT MAX(%s) FROM %s))`, t.name, t.serial, t.serial, t.name)
		if _, err := l.tx.ExecContext(l.ctx, q); err != nil {
			return fmt.Errorf("continue the ids of %s: %w", t.name, err)
		}
	}
	return nil
}

// prepareInsert prepares the INSERT of a table's backed-up columns, after
// checking that the target table has each of them.
func prepareInsert(ctx context.Context, tx *sql.Tx, st *sqlstore.Store, name string, cols []string) (*sql.Stmt, error) {
	rows, err := tx.QueryContext(ctx, `SELECT * FROM `+name+` WHERE 1 = 0`)
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", name, err)
	}
	have, err := rows.Columns()
	rows.Close()
	if err != nil {
		return nil, err
	}
	marks := make([]string, len(cols))
	for i, c := range cols {
		if !slices.Contains(have, c) {
			return nil, fmt.Errorf("the backup's %s has a column %q that the restored schema lacks", name, c)
		}
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	q := `INSERT INTO ` + name + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(marks, ", ") + `)`
	return tx.PrepareContext(ctx, st.Rebind(q))
}

// values turns a decoded row into driver values.
func values(raw []any) ([]any, error) {
	out := make([]any, len(raw))
	for i, v := range raw {
		switch x := v.(type) {
		case nil, string, bool:
			out[i] = x
		case json.Number:
			n, err := x.Int64()
			if err != nil {
				return nil, fmt.Errorf("value %s is not an integer", x)
			}
			out[i] = n
		case map[string]any:
			b64, ok := x["base64"].(string)
			b, err := base64.StdEncoding.DecodeString(b64)
			if !ok || len(x) != 1 || err != nil {
				return nil, fmt.Errorf("a byte-string value is damaged")
			}
			out[i] = b
		default:
			return nil, fmt.Errorf("unexpected value %v", v)
		}
	}
	return out, nil
}
