package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/botrelay/botrelay/internal/fence"
)

// PostgreSQL's pipeline. Run one after another, a batch's writes cost a
// round trip each, and on a machine whose cores PostgreSQL shares with the
// server each round trip is two context switches: the batcher's one
// connection spent most of its time waiting. When every write of a batch
// is one statement (pgWrite), the batch goes out as one pipeline, BEGIN,
// the writes and COMMIT, answered in one round trip, with its statements
// prepared once per connection (pgx caches them).
//
// A fenced batch takes one round trip more: BEGIN and the fence checks go
// first, and the writes only once every lease they are made under is
// known to be held (a check that finds no row does not stop a pipeline).
//
// A statement that fails aborts the transaction and PostgreSQL skips the
// rest of the pipeline, COMMIT included: the batcher rolls back, answers
// the failed write and runs the others again, as on SQLite. A write whose
// statement succeeds but finds nothing (an unknown dialog) is no failure:
// its caller gets its outcome (ENOTFOUND) and the others commit. Once
// COMMIT is sent, a lost connection leaves the outcome unknown: no write
// of that batch runs again.

// pgWrite is a write as one statement.
type pgWrite struct {
	query string
	args  []any
	// dest, when set, receives the statement's one row; without it the
	// statement returns none.
	dest []any
	// outcome turns the statement's result into the caller's answer: nil,
	// sql.ErrNoRows when dest is set and no row came, or the statement's
	// error when it failed; it also fills the caller's result.
	outcome func(err error) error
}

// pipelines reports whether batch goes out as one pipeline.
func (b *batcher) pipelines(batch []*batchReq) bool {
	if b.s.dialect != Postgres {
		return false
	}
	for _, r := range batch {
		if r.pg == nil {
			return false
		}
	}
	return true
}

// attemptPipelined is attempt for a pipelined batch: the same answers, and
// each request's outcome in its res.
func (b *batcher) attemptPipelined(batch []*batchReq) (failed int, err error) {
	start := time.Now()
	ctx := context.Background()
	failed = -1
	rerr := b.conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("sqlstore: the PostgreSQL connection is a %T", dc)
		}
		pc := sc.Conn()
		failed, err = b.pipeline(ctx, pc, batch)
		if err != nil && pc.PgConn().TxStatus() != 'I' && !pc.IsClosed() {
			if _, rbErr := pc.Exec(ctx, "ROLLBACK"); rbErr != nil {
				b.s.log.Warn("sqlstore: rollback of a failed batch", "err", rbErr)
			}
		}
		return nil
	})
	if rerr != nil {
		return -1, rerr
	}
	if err == nil {
		b.s.observeCommit(len(batch), time.Since(start))
	}
	return failed, err
}

// pipeline sends batch (fence checks first when there are any) and reads
// its results.
func (b *batcher) pipeline(ctx context.Context, pc *pgx.Conn, batch []*batchReq) (int, error) {
	begun, failed, err := b.fencePipeline(ctx, pc, batch)
	if err != nil || failed >= 0 {
		return failed, err
	}
	pb := &pgx.Batch{}
	if !begun {
		pb.Queue("BEGIN")
	}
	for _, r := range batch {
		pb.Queue(r.pg.query, r.pg.args...)
	}
	pb.Queue("COMMIT")
	br := pc.SendBatch(ctx, pb)
	if !begun {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return -1, sent(fmt.Errorf("begin transaction: %w", err))
		}
	}
	for i, r := range batch {
		var err error
		if r.pg.dest != nil {
			err = br.QueryRow().Scan(r.pg.dest...)
		} else {
			_, err = br.Exec()
		}
		var pe *pgconn.PgError
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			r.res = r.pg.outcome(sql.ErrNoRows)
		case errors.As(err, &pe):
			_ = br.Close()
			return i, r.pg.outcome(err)
		case err != nil:
			_ = br.Close()
			return -1, sent(err)
		default:
			r.res = r.pg.outcome(nil)
		}
	}
	_, err = br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return -1, &commitError{err}
	}
	return -1, nil
}

// sent is the failure of a pipeline that holds COMMIT: unless the driver
// says nothing reached the server, the batch may have committed.
func sent(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) || pgconn.SafeToRetry(err) {
		return err
	}
	return &commitError{err}
}

// fencePipeline begins the transaction and checks every lease the batch's
// writes are made under, in one round trip, when there is any. It returns
// whether it began, or the first write made under a lease that is lost.
func (b *batcher) fencePipeline(ctx context.Context, pc *pgx.Conn, batch []*batchReq) (bool, int, error) {
	var leases []fence.Token
	for _, r := range batch {
		if t, ok := fence.From(r.ctx); ok && !hasToken(leases, t) {
			leases = append(leases, t)
		}
	}
	if len(leases) == 0 {
		return false, -1, nil
	}
	pb := &pgx.Batch{}
	pb.Queue("BEGIN")
	for _, t := range leases {
		pb.Queue(fenceQuery, t.Lease, t.Node, t.Incarnation, t.Epoch)
	}
	br := pc.SendBatch(ctx, pb)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return true, -1, fmt.Errorf("begin transaction: %w", err)
	}
	var lost []fence.Token
	for _, t := range leases {
		var one int
		err := br.QueryRow().Scan(&one)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			lost = append(lost, t)
		case err != nil:
			return true, -1, fmt.Errorf("check lease %s: %w", t.Lease, err)
		}
	}
	if err := br.Close(); err != nil {
		return true, -1, err
	}
	for i, r := range batch {
		if t, ok := fence.From(r.ctx); ok && hasToken(lost, t) {
			return true, i, fmt.Errorf("%w (lease %s, epoch %d)", fence.ErrLost, t.Lease, t.Epoch)
		}
	}
	return true, -1, nil
}

func hasToken(ts []fence.Token, t fence.Token) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// execWrite is a write of one statement without rows on either engine:
// the function batched runs, and its pipelined form.
func execWrite(query string, args []any, outcome func(err error) error) (func(ctx context.Context, c conn) error, *pgWrite) {
	fn := func(ctx context.Context, c conn) error {
		_, err := c.exec(ctx, query, args...)
		return outcome(err)
	}
	return fn, &pgWrite{query: query, args: args, outcome: outcome}
}
