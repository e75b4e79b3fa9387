package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/botrelay/botrelay/internal/fence"
)

// Group commit on PostgreSQL (batch.go runs it). Three things differ from
// SQLite:
//
//   - Fencing. A write made under a lease (cluster mode) checks, in the
//     batch's transaction and before its own statements, that the lease is
//     still the node's, as inTx does; the check share-locks the lease row
//     until the batch commits, so a takeover waits for it. A write whose
//     lease is lost fails alone: run rolls back and commits the others
//     again without it. One check per lease and batch is enough: the
//     lock holds for the rest of the transaction.
//   - Locks. A batch holds the row locks of every dialog it appended to
//     and every row it upserted until it commits, taken in the order its
//     callers came. Another transaction taking two of those rows in the
//     other order (another node's batcher, an inTx write) can deadlock
//     with it; PostgreSQL then aborts one of the two (SQLSTATE 40P01).
//     When it picks the batch, the batch runs again from the start: no
//     write of an aborted transaction happened, and each write's function
//     can run again. So can a serialization failure (40001).
//   - The connection. The batcher keeps one connection; when it is gone
//     (the server ended it: a restart, an administrator,
//     idle_in_transaction_session_timeout; or the socket failed) the
//     batcher takes a new one, and runs the batch again when the
//     transaction certainly did not commit: the server said so before
//     COMMIT's turn (SQLSTATE class 57 in place of a write's result), or
//     nothing reached it. Otherwise the outcome is unknown and the callers
//     get the error, as with a transaction of their own.

// maxRetries bounds how often one batch runs again after a deadlock, a
// serialization failure or a lost connection.
const maxRetries = 5

// commitError is the failure of COMMIT itself: the batch may have
// committed, so it never runs again.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// fenceChecks runs checkFence once per lease in one batch transaction.
type fenceChecks struct{ done []fence.Token }

// check fences the write submitted with callerCtx, running the check
// itself on the batch's ctx (a statement interrupted by a caller's
// cancellation would abort the whole transaction).
func (f *fenceChecks) check(ctx, callerCtx context.Context, c conn) error {
	if c.s.dialect != Postgres {
		return nil
	}
	t, ok := fence.From(callerCtx)
	if !ok {
		return nil
	}
	for _, d := range f.done {
		if d == t {
			return nil
		}
	}
	if err := checkFence(fence.With(ctx, t), c); err != nil {
		return err
	}
	f.done = append(f.done, t)
	return nil
}

// retry reports whether the batch that just failed with err runs again,
// counting the tries; it takes a new connection first when the old one is
// gone (the server ended it: SQLSTATE class 57, or the socket failed).
func (b *batcher) retry(err error, tries *int) bool {
	if err == nil || b.s.dialect != Postgres || *tries >= maxRetries {
		return false
	}
	var ce *commitError
	committing := errors.As(err, &ce)
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, fence.ErrLost):
		return false
	case errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") && !committing:
	case errors.As(err, &pe) && !strings.HasPrefix(pe.Code, "57P"):
		return false
	case b.alive():
		return false
	default:
		if rerr := b.reconnect(); rerr != nil {
			b.s.log.Warn("sqlstore: the batcher's connection was lost and cannot be replaced", "err", rerr)
			return false
		}
		if committing {
			return false
		}
	}
	*tries++
	return true
}

// alive checks the batcher's connection.
func (b *batcher) alive() bool {
	return b.conn.PingContext(context.Background()) == nil
}

// reconnect replaces the batcher's connection and forgets its statements.
func (b *batcher) reconnect() error {
	for q, st := range b.stmts {
		_ = st.Close()
		delete(b.stmts, q)
	}
	_ = b.conn.Close()
	c, err := b.s.db.Conn(context.Background())
	if err != nil {
		return fmt.Errorf("sqlstore: a connection for writes: %w", err)
	}
	b.conn = c
	return nil
}
