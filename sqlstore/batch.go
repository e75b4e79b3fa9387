package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit. Every SQLite commit is an fsync of the WAL, and SQLite has
// one writer: written one commit at a time, the hot writes (a message
// appended, the relay's per-conversation state) top out at a few hundred
// per second whatever the number of conversations. The batcher runs the hot
// writes of many callers in one transaction and answers each caller after
// that transaction committed: every write is as durable as before when its
// call returns, and one fsync serves many. A write that fails is answered
// with its error and leaves the others of its batch alone (see run).
// PostgreSQL batches too (batch_pg.go): there a write in its own
// transaction costs two more round trips and a WAL flush of its own, and
// PostgreSQL's CPU on the same machine was most of the cost of a message.

// maxBatch bounds the writes of one transaction.
const maxBatch = 256

// errClosed answers writes submitted after Close.
var errClosed = errors.New("sqlstore: the store is closed")

type batchReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, c conn) error
	done chan error
	// pg, when set, is the write as one statement, which PostgreSQL's
	// batcher pipelines (batch_pipe.go); res is then its outcome, told to
	// the caller once the batch committed.
	pg  *pgWrite
	res error
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

	// writer is held by whoever uses conn and stmts: the batcher's
	// goroutine for a batch, or a caller committing a lone write itself
	// (batch_direct.go). pending counts the writes queued for the batcher
	// and not yet answered.
	writer  sync.Mutex
	pending atomic.Int64

	// The batcher writes on one connection of its own, with its
	// statements prepared once: parsing SQL on every write was a tenth of
	// the writer's time. Only the holder of writer uses them.
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	raw   map[string]rawStmt
	// seqs is SQLite's next sequence of recently appended dialogs
	// (seqcache.go), also used only by the holder of writer.
	seqs seqCache
}

func newBatcher(ctx context.Context, s *Store) (*batcher, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: a connection for writes: %w", err)
	}
	b := &batcher{s: s, reqs: make(chan *batchReq, maxBatch), quit: make(chan struct{}), conn: c, stmts: map[string]*sql.Stmt{}, raw: map[string]rawStmt{}}
	b.wg.Add(1)
	go b.loop()
	return b, nil
}

// ExecContext, QueryContext and QueryRowContext make the batcher the
// querier of the writes it runs, on prepared statements.
func (b *batcher) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if b.s.dialect == SQLite {
		return b.execRaw(ctx, query, args) // batch_raw.go
	}
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
	b.closeRaw()
	_ = b.conn.Close()
}

// batched runs fn as one write of the store, in a group-committed
// transaction. fn must use only the context and conn it is given (a
// context that is never cancelled), and must not call other Store methods.
// A write whose ctx carries a fencing token is fenced like inTx's.
func (s *Store) batched(ctx context.Context, fn func(ctx context.Context, c conn) error) error {
	return s.batchedWrite(ctx, fn, nil)
}

// batchedWrite is batched with the write also given as one statement for
// PostgreSQL's pipeline (nil: run fn there too).
func (s *Store) batchedWrite(ctx context.Context, fn func(ctx context.Context, c conn) error, pg *pgWrite) error {
	if s.batch == nil {
		return s.inTx(ctx, func(c conn) error { return fn(ctx, c) })
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &batchReq{ctx: ctx, fn: fn, done: make(chan error, 1), pg: pg}
	b := s.batch
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return errClosed
	}
	if b.direct(r) {
		b.mu.RUnlock()
		return <-r.done
	}
	b.pending.Add(1)
	select {
	case b.reqs <- r:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.pending.Add(-1)
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
					b.runLocked([]*batchReq{r})
				default:
					return
				}
			}
		}
		batch := []*batchReq{first}
		// Take the writer before draining: writes that queue while a
		// caller commits a lone write of its own join this batch.
		b.writer.Lock()
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
		b.writer.Unlock()
		b.pending.Add(-int64(len(batch)))
	}
}

// runLocked runs a batch holding the writer connection.
func (b *batcher) runLocked(batch []*batchReq) {
	b.writer.Lock()
	b.run(batch)
	b.writer.Unlock()
	b.pending.Add(-int64(len(batch)))
}

// run commits one batch and answers its callers. The writes run one after
// another in one transaction with no savepoints between them (two
// statements less per write): a write that fails rolls the transaction
// back, is answered with its error, and the others run again in a new
// transaction. Writes fail rarely (bad input), and a batch's functions can
// run again: each only issues its statements and fills its result.
func (b *batcher) run(batch []*batchReq) {
	live := make([]*batchReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	for tries := 0; len(live) > 0; {
		failed, err := b.attempt(live)
		if b.retry(err, &tries) {
			continue
		}
		if failed < 0 {
			for _, r := range live {
				if err == nil {
					r.done <- r.res
				} else {
					r.done <- err
				}
			}
			return
		}
		live[failed].done <- err
		live = append(live[:failed:failed], live[failed+1:]...)
	}
}

// attempt runs the writes of batch in one transaction. It returns -1 and
// the transaction's outcome (nil when committed), or the index and error of
// the first write that failed, after rolling everything back.
func (b *batcher) attempt(batch []*batchReq) (int, error) {
	if b.pipelines(batch) {
		return b.attemptPipelined(batch)
	}
	// The transaction and its statements run without the callers'
	// contexts: SQLite rolls back the whole transaction when a statement
	// in it is interrupted, which would undo the other callers' writes.
	ctx := context.Background()
	start := time.Now()
	exec := func(q string) error {
		_, err := b.ExecContext(ctx, q)
		if q == "ROLLBACK" {
			b.seqs.rolledBack()
		}
		return err
	}
	begin := "BEGIN IMMEDIATE"
	if b.s.dialect == Postgres {
		begin = "BEGIN"
	}
	if err := exec(begin); err != nil {
		return -1, fmt.Errorf("begin transaction: %w", err)
	}
	c := conn{q: b, s: b.s}
	var fenced fenceChecks
	for i, r := range batch {
		if err := fenced.check(ctx, r.ctx, c); err != nil {
			_ = exec("ROLLBACK")
			return i, err
		}
		if err := r.fn(ctx, c); err != nil {
			_ = exec("ROLLBACK")
			return i, err
		}
	}
	if err := exec("COMMIT"); err != nil {
		_ = exec("ROLLBACK")
		return -1, &commitError{err}
	}
	b.seqs.committed()
	b.s.observeCommit(len(batch), time.Since(start))
	return -1, nil
}
