package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Group commit (SQLite). Every SQLite commit is an fsync of the WAL, and
// SQLite has one writer: written one commit at a time, the hot writes (a
// message appended, the relay's per-conversation state) top out at a few
// hundred per second whatever the number of conversations. The batcher runs
// the hot writes of many callers in one transaction, each in a savepoint of
// its own, and answers each caller after that transaction committed: every
// write is as durable as before when its call returns, and one fsync
// serves many. A write that fails rolls back to its savepoint and leaves
// the others of its batch alone. PostgreSQL does group commit itself, so
// there the writes keep their own transactions.

// maxBatch bounds the writes of one transaction.
const maxBatch = 256

// errClosed answers writes submitted after Close.
var errClosed = errors.New("sqlstore: the store is closed")

type batchReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, c conn) error
	done chan error
}

type batcher struct {
	s    *Store
	reqs chan *batchReq
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	// mu orders submitting against close: a write is either queued before
	// close begins (and answered by the loop's last drain) or refused.
	mu     sync.RWMutex
	closed bool

	// The batcher writes on one connection of its own, with its
	// statements prepared once: parsing SQL on every write was a tenth of
	// the writer's time. Only the batcher's goroutine uses them.
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

func newBatcher(ctx context.Context, s *Store) (*batcher, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: a connection for writes: %w", err)
	}
	b := &batcher{s: s, reqs: make(chan *batchReq, maxBatch), quit: make(chan struct{}), conn: c, stmts: map[string]*sql.Stmt{}}
	b.wg.Add(1)
	go b.loop()
	return b, nil
}

// ExecContext, QueryContext and QueryRowContext make the batcher the
// querier of the writes it runs, on prepared statements.
func (b *batcher) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := b.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (b *batcher) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := b.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (b *batcher) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := b.stmt(ctx, query)
	if err != nil {
		// A *sql.Row carrying err: run the query unprepared, which fails
		// the same way.
		return b.conn.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (b *batcher) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := b.stmts[query]; st != nil {
		return st, nil
	}
	st, err := b.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(b.stmts) < 256 {
		b.stmts[query] = st
	}
	return st, nil
}

// close stops the batcher after the writes already submitted are done.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.once.Do(func() { close(b.quit) })
	b.wg.Wait()
	for _, st := range b.stmts {
		_ = st.Close()
	}
	_ = b.conn.Close()
}

// batched runs fn as one write of the store: in a group-committed
// transaction on SQLite, in its own transaction elsewhere. fn must use only
// the context and conn it is given (on SQLite a context that is never
// cancelled), and must not call other Store methods.
func (s *Store) batched(ctx context.Context, fn func(ctx context.Context, c conn) error) error {
	if s.batch == nil {
		return s.inTx(ctx, func(c conn) error { return fn(ctx, c) })
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &batchReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	b := s.batch
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return errClosed
	}
	select {
	case b.reqs <- r:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	// Once submitted, the write may commit: wait for the outcome even if
	// ctx ends meanwhile, so the caller never reports a committed write as
	// failed. A batch takes milliseconds.
	return <-r.done
}

func (b *batcher) loop() {
	defer b.wg.Done()
	for {
		var first *batchReq
		select {
		case first = <-b.reqs:
		case <-b.quit:
			// Answer what is still queued, then stop.
			for {
				select {
				case r := <-b.reqs:
					b.run([]*batchReq{r})
				default:
					return
				}
			}
		}
		batch := []*batchReq{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		b.run(batch)
	}
}

// run commits one batch and answers its callers.
func (b *batcher) run(batch []*batchReq) {
	errs := make([]error, len(batch))
	answer := func(commitErr error) {
		for i, r := range batch {
			if errs[i] == nil {
				errs[i] = commitErr
			}
			r.done <- errs[i]
		}
	}
	// The transaction and its statements run without the callers'
	// contexts: SQLite rolls back the whole transaction when a statement
	// in it is interrupted, which would undo the other callers' writes.
	ctx := context.Background()
	exec := func(q string) error {
		_, err := b.ExecContext(ctx, q)
		return err
	}
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		answer(fmt.Errorf("begin transaction: %w", err))
		return
	}
	rollback := func(why string, err error) {
		_ = exec("ROLLBACK")
		answer(fmt.Errorf("%s: %w", why, err))
	}
	c := conn{q: b, s: b.s}
	ran := false
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if err := exec("SAVEPOINT w"); err != nil {
			rollback("savepoint", err)
			return
		}
		if err := r.fn(ctx, c); err != nil {
			errs[i] = err
			if rerr := exec("ROLLBACK TO w"); rerr != nil {
				rollback("roll back a failed write", rerr)
				return
			}
		}
		if err := exec("RELEASE w"); err != nil {
			rollback("release savepoint", err)
			return
		}
		ran = true
	}
	if !ran {
		_ = exec("ROLLBACK")
		answer(nil)
		return
	}
	if err := exec("COMMIT"); err != nil {
		rollback("commit", err)
		return
	}
	answer(nil)
}
