package sqlstore

import (
	"context"
	"strings"

	"github.com/botrelay/botrelay"
)

// On SQLite the batcher knows the next sequence of the dialogs it appended
// to recently. The store runs SQLite's writes one at a time on the
// batcher's connection, and the process holding the data folder's lock is
// the only writer, so the dialog's next sequence is the last one the writer
// gave plus one. With it an append is a plain INSERT: no look-up of the
// dialog's row, no MAX over its events, no RETURNING rows to read back,
// which was about half of the append statement's work. The dialog's
// existence is still checked by the events table's foreign key, and that
// it belongs to the conversation by the cached entry (filled by the full
// statement, which checks both).
//
// The cache follows the writer's transaction: the entries a transaction
// changed are dropped when it rolls back (the next append reads them from
// the table again), and it holds at most maxSeqCache dialogs, dropping an
// arbitrary one when full, so its memory is bounded however many
// conversations are open. A stale entry cannot produce a wrong sequence
// silently: an INSERT whose sequence is taken fails the primary key, and
// the append then runs the full statement.

// maxSeqCache bounds the cached dialogs (about 150 bytes each with their
// ids).
var maxSeqCache = 32768

type seqEntry struct {
	conv botrelay.ConversationID
	next int64
}

type seqCache struct {
	next map[botrelay.DialogID]*seqEntry
	// touched lists the dialogs whose entries the open transaction set.
	touched []botrelay.DialogID
}

// lookup returns the next sequence of dialog d of conversation cv, if known.
func (c *seqCache) lookup(d botrelay.DialogID, cv botrelay.ConversationID) (int64, bool) {
	e := c.next[d]
	if e == nil || e.conv != cv {
		return 0, false
	}
	return e.next, true
}

// set records next as dialog d's next sequence, inside the open transaction.
func (c *seqCache) set(d botrelay.DialogID, cv botrelay.ConversationID, next int64) {
	if c.next == nil {
		c.next = map[botrelay.DialogID]*seqEntry{}
	}
	c.touched = append(c.touched, d)
	// Changed in place: assigning to the map would also replace its key
	// with d.
	if e := c.next[d]; e != nil && e.conv == cv {
		e.next = next
		return
	}
	if len(c.next) >= maxSeqCache {
		for k := range c.next {
			delete(c.next, k)
			break
		}
	}
	// Copies of the ids: the caller's may point into a larger buffer
	// (a decoded frame), which the cache would keep alive. A main dialog's
	// id is its conversation's: one copy.
	key := botrelay.DialogID(strings.Clone(string(d)))
	conv := botrelay.ConversationID(key)
	if string(cv) != string(d) {
		conv = botrelay.ConversationID(strings.Clone(string(cv)))
	}
	c.next[key] = &seqEntry{conv: conv, next: next}
}

// drop forgets dialog d.
func (c *seqCache) drop(d botrelay.DialogID) { delete(c.next, d) }

// committed keeps the open transaction's entries.
func (c *seqCache) committed() {
	clear(c.touched)
	c.touched = c.touched[:0]
}

// rolledBack forgets the entries the open transaction set.
func (c *seqCache) rolledBack() {
	for _, d := range c.touched {
		delete(c.next, d)
	}
	c.committed()
}

// insertEventSQLite is an append whose sequence is known: the arguments
// of appendSQLite, then the sequence.
const insertEventSQLite = `INSERT INTO conversation_events (dialog_id, sequence, conversation_id, type, originator_id,
		originator_pid, originator_role, originator_name, originator_type, audience, event, metadata, encoded_metadata, created_at)
	VALUES (?1, ?14, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)`

// appendSQLiteEvent appends an event with appendSQLite's arguments and
// returns its sequence: in the batcher with the cached sequence when it has
// one, otherwise with the full statement.
func (c conn) appendSQLiteEvent(ctx context.Context, d botrelay.DialogID, cv botrelay.ConversationID, args []any) (int64, error) {
	b, ok := c.q.(*batcher)
	if !ok {
		return c.queryInt64(ctx, appendSQLite, args...)
	}
	if next, ok := b.seqs.lookup(d, cv); ok {
		_, err := b.execRaw(ctx, insertEventSQLite, append(args, next))
		if err == nil {
			b.seqs.set(d, cv, next+1)
			return next, nil
		}
		b.seqs.drop(d)
		// A constraint failed (the statement alone was undone, the
		// transaction goes on): the sequence was taken or the dialog is
		// gone. The full statement finds out which. Any other error
		// may have ended the transaction: it is the append's outcome.
		if classify(err) == noViolation {
			return 0, err
		}
	}
	seq, err := b.queryInt64Raw(ctx, rebindCached(appendSQLite), args)
	if err == nil {
		b.seqs.set(d, cv, seq+1)
	}
	return seq, err
}
