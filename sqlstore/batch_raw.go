package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
)

// On SQLite the batcher's writes run on the driver's own statements, not
// through database/sql's: for each statement database/sql checks and
// converts every argument through reflection and wraps the result (for a
// query, a *sql.Rows with its own locks and a context watcher). The driver
// statements are prepared once on the writer's connection, inside
// (*sql.Conn).Raw, which is also where each of them runs: Raw pins the
// same driver connection every time. ExecContext and queryInt64 take this
// path; QueryContext and QueryRowContext, which must return database/sql's
// types, keep database/sql's statements.

// rawStmt is what the batcher needs of a driver statement; the SQLite
// driver's statements have both methods.
type rawStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// rawStmt returns the driver statement of query on the writer's driver
// connection dc, preparing it the first time. Only the holder of b.writer
// calls it.
func (b *batcher) rawStmt(ctx context.Context, dc any, query string) (rawStmt, error) {
	if st := b.raw[query]; st != nil {
		return st, nil
	}
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, errors.New("sqlstore: the SQLite driver cannot prepare statements")
	}
	ds, err := pc.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(rawStmt)
	if !ok {
		_ = ds.Close()
		return nil, errors.New("sqlstore: the SQLite driver's statements cannot run with a context")
	}
	if len(b.raw) < 256 {
		b.raw[query] = st
		return st, nil
	}
	return oneOff{st}, nil
}

// oneOff is a statement past the cache's bound: it is finalized after its
// one use (through ExecContext or the rows' Close).
type oneOff struct{ rawStmt }

func (o oneOff) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	defer o.rawStmt.Close()
	return o.rawStmt.ExecContext(ctx, args)
}

func (o oneOff) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := o.rawStmt.QueryContext(ctx, args)
	if err != nil {
		o.rawStmt.Close()
		return nil, err
	}
	return closingRows{rows, o.rawStmt}, nil
}

type closingRows struct {
	driver.Rows
	st driver.Stmt
}

func (r closingRows) Close() error {
	err := r.Rows.Close()
	r.st.Close()
	return err
}

// namedValues converts arguments as database/sql would for a driver
// without its own converter: the driver's own types pass as they are,
// other integers, floats and named string types through
// driver.DefaultParameterConverter.
func namedValues(args []any) ([]driver.NamedValue, error) {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil, int64, float64, bool, []byte, string:
			nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
		case int:
			nv[i] = driver.NamedValue{Ordinal: i + 1, Value: int64(v)}
		default:
			cv, err := driver.DefaultParameterConverter.ConvertValue(a)
			if err != nil {
				return nil, fmt.Errorf("sqlstore: argument %d: %w", i+1, err)
			}
			nv[i] = driver.NamedValue{Ordinal: i + 1, Value: cv}
		}
	}
	return nv, nil
}

// execRaw runs a statement on the driver connection.
func (b *batcher) execRaw(ctx context.Context, query string, args []any) (res sql.Result, err error) {
	nv, err := namedValues(args)
	if err != nil {
		return nil, err
	}
	err = b.conn.Raw(func(dc any) error {
		st, err := b.rawStmt(ctx, dc, query)
		if err != nil {
			return err
		}
		res, err = st.ExecContext(ctx, nv)
		return err
	})
	return res, err
}

// queryInt64Raw runs a query on the driver connection and returns the
// first column of its first row as an integer, sql.ErrNoRows when it has
// none.
func (b *batcher) queryInt64Raw(ctx context.Context, query string, args []any) (n int64, err error) {
	nv, err := namedValues(args)
	if err != nil {
		return 0, err
	}
	err = b.conn.Raw(func(dc any) error {
		st, err := b.rawStmt(ctx, dc, query)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, nv)
		if err != nil {
			return err
		}
		dest := make([]driver.Value, max(len(rows.Columns()), 1))
		err = rows.Next(dest)
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if errors.Is(err, io.EOF) {
			return sql.ErrNoRows
		}
		if err != nil {
			return err
		}
		var ok bool
		if n, ok = dest[0].(int64); !ok {
			return fmt.Errorf("sqlstore: the query returned %T, not an integer", dest[0])
		}
		return nil
	})
	return n, err
}

// queryInt64 runs a query whose first row's first column is an integer:
// on the driver's statement in a batch on SQLite, through database/sql
// elsewhere.
func (c conn) queryInt64(ctx context.Context, query string, args ...any) (int64, error) {
	if b, ok := c.q.(*batcher); ok && b.s.dialect == SQLite {
		return b.queryInt64Raw(ctx, c.s.Rebind(query), args)
	}
	var n int64
	err := c.queryRow(ctx, query, args...).Scan(&n)
	return n, err
}

// closeRaw closes the driver statements.
func (b *batcher) closeRaw() {
	if len(b.raw) == 0 {
		return
	}
	_ = b.conn.Raw(func(any) error {
		for _, st := range b.raw {
			_ = st.Close()
		}
		return nil
	})
}
