package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/jsonvalid"
)

var _ botrelay.ConversationStore = (*Store)(nil)

const conversationColumns = `id, account_id, consumer_id, skill_id, state, ttr_type, manual_ettr, close_reason, context,
	created_at, updated_at, closed_at`

func scanConversation(row interface{ Scan(...any) error }) (*botrelay.Conversation, error) {
	c := &botrelay.Conversation{}
	var ettr, created, updated, closed int64
	var context string
	if err := row.Scan(&c.ID, &c.AccountID, &c.ConsumerID, &c.SkillID, &c.State, &c.TTR, &ettr, &c.CloseReason, &context,
		&created, &updated, &closed); err != nil {
		return nil, err
	}
	if context != "" {
		c.Context = json.RawMessage(context)
	}
	c.ManualETTR, c.CreatedAt, c.UpdatedAt, c.ClosedAt = fromMillis(ettr), fromMillis(created), fromMillis(updated), fromMillis(closed)
	return c, nil
}

// CreateConversation implements botrelay.ConversationStore.
func (s *Store) CreateConversation(ctx context.Context, cv *botrelay.Conversation) error {
	if err := cv.Validate(); err != nil {
		return err
	}
	now := s.nowTime()
	return s.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO conversations (`+conversationColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)`,
			string(cv.ID), string(cv.AccountID), string(cv.ConsumerID), int64(cv.SkillID), string(cv.State), string(cv.TTR),
			millis(cv.ManualETTR), cv.CloseReason, string(cv.Context), millis(now), millis(cv.ClosedAt))
		if err != nil {
			return normalize(err, "insert conversation", "", fmt.Sprintf("conversation %s already exists", cv.ID),
				fmt.Sprintf("account %q does not exist", cv.AccountID))
		}
		if err := s.writeConversationParts(ctx, c, cv); err != nil {
			return err
		}
		if err := recordChanges(ctx, c, nil, cv, now); err != nil {
			return err
		}
		cv.CreatedAt, cv.UpdatedAt = now, now
		return nil
	})
}

// UpdateConversation implements botrelay.ConversationStore.
func (s *Store) UpdateConversation(ctx context.Context, cv *botrelay.Conversation) error {
	if err := cv.Validate(); err != nil {
		return err
	}
	now := s.nowTime()
	return s.inTx(ctx, func(c conn) error {
		old, err := s.storedConversation(ctx, c, cv.ID)
		if err != nil {
			return err
		}
		res, err := c.exec(ctx, `UPDATE conversations SET consumer_id = $1, skill_id = $2, state = $3, ttr_type = $4,
				manual_ettr = $5, close_reason = $6, context = $7, updated_at = $8, closed_at = $9
			WHERE id = $10`,
			string(cv.ConsumerID), int64(cv.SkillID), string(cv.State), string(cv.TTR), millis(cv.ManualETTR),
			cv.CloseReason, string(cv.Context), millis(now), millis(cv.ClosedAt), string(cv.ID))
		if err := mustAffect(res, err, "update conversation", fmt.Sprintf("conversation %s not found", cv.ID), ""); err != nil {
			return err
		}
		if err := s.writeConversationParts(ctx, c, cv); err != nil {
			return err
		}
		if err := recordChanges(ctx, c, old, cv, now); err != nil {
			return err
		}
		cv.UpdatedAt = now
		return nil
	})
}

// writeConversationParts replaces the participants and upserts the dialogs;
// a dialog's last_sequence is left alone.
func (s *Store) writeConversationParts(ctx context.Context, c conn, cv *botrelay.Conversation) error {
	if _, err := c.exec(ctx, `DELETE FROM conversation_participants WHERE conversation_id = $1`, string(cv.ID)); err != nil {
		return fmt.Errorf("clear participants: %w", err)
	}
	for i, p := range cv.Participants {
		_, err := c.exec(ctx, `INSERT INTO conversation_participants
				(conversation_id, position, user_id, consumer_id, role, state, joined_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			string(cv.ID), i, int64(p.UserID), string(p.ConsumerID), string(p.Role), string(p.State), millis(p.JoinedAt))
		if err != nil {
			return normalize(err, "insert participant", "", "", "participant is malformed")
		}
	}
	for i, d := range cv.Dialogs {
		_, err := c.exec(ctx, `INSERT INTO conversation_dialogs
				(id, conversation_id, position, type, state, closed_by, last_sequence, created_at, closed_at, handoff_sequence)
			VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)
			ON CONFLICT (id) DO UPDATE SET position = excluded.position, type = excluded.type, state = excluded.state,
				closed_by = excluded.closed_by, closed_at = excluded.closed_at, handoff_sequence = excluded.handoff_sequence
			WHERE conversation_dialogs.conversation_id = excluded.conversation_id`,
			string(d.ID), string(cv.ID), i, string(d.Type), string(d.State), d.ClosedBy, millis(d.CreatedAt), millis(d.ClosedAt),
			d.HandoffSequence)
		if err != nil {
			return normalize(err, "upsert dialog", "", "", "dialog is malformed")
		}
	}
	return nil
}

// Conversation implements botrelay.ConversationStore.
func (s *Store) Conversation(ctx context.Context, id botrelay.ConversationID) (*botrelay.Conversation, error) {
	return s.storedConversation(ctx, s.pool(), id)
}

// Conversations implements botrelay.ConversationStore.
func (s *Store) Conversations(ctx context.Context, account botrelay.AccountID, f botrelay.ConversationFilter) ([]*botrelay.Conversation, error) {
	c := s.pool()
	q := `SELECT ` + conversationColumns + ` FROM conversations WHERE account_id = $1`
	args := []any{string(account)}
	if f.State != "" {
		args = append(args, string(f.State))
		q += fmt.Sprintf(" AND state = $%d", len(args))
	}
	if f.ConsumerID != "" {
		args = append(args, string(f.ConsumerID))
		q += fmt.Sprintf(" AND consumer_id = $%d", len(args))
	}
	q += " ORDER BY created_at DESC, id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	var out []*botrelay.Conversation
	in := newInterner()
	for rows.Next() {
		cv, err := scanConversation(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan conversation: %w", err)
		}
		cv.AccountID, cv.State, cv.TTR, cv.CloseReason = intern(in, cv.AccountID), intern(in, cv.State), intern(in, cv.TTR), in.str(cv.CloseReason)
		cv.Context = in.json(cv.Context)
		out = append(out, cv)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	slices.Reverse(out)
	if err := s.loadPartsConcurrently(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// loadPartsConcurrently is loadConversationParts on the pool, for a long
// listing in two halves read on two connections at once. The hub lists
// every open conversation at start and serves nobody until it has them;
// reading their dialogs and participants was most of that wait, and one
// reader used one core. A short listing is read as before.
func (s *Store) loadPartsConcurrently(ctx context.Context, cvs []*botrelay.Conversation) error {
	const minSplit = 2000
	if len(cvs) < minSplit {
		return s.loadConversationParts(ctx, s.pool(), cvs)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	half := len(cvs) / 2
	second := make(chan error, 1)
	go func() { second <- s.loadConversationParts(ctx, s.pool(), cvs[half:]) }()
	err := s.loadConversationParts(ctx, s.pool(), cvs[:half])
	if err != nil {
		cancel() // the other half stops at its next query
	}
	if err2 := <-second; err == nil {
		err = err2
	}
	return err
}

// loadConversationParts fills the dialogs and participants of cvs, in
// batches so a long list needs few queries. What repeats from row to row is
// kept once (interner), and each slice is made to its length: the hub keeps
// every open conversation it lists at start.
func (s *Store) loadConversationParts(ctx context.Context, c conn, cvs []*botrelay.Conversation) error {
	const batch = 200
	in := newInterner()
	for start := 0; start < len(cvs); start += batch {
		part := cvs[start:min(start+batch, len(cvs))]
		byID := make(map[botrelay.ConversationID]*botrelay.Conversation, len(part))
		args := make([]any, len(part))
		marks := make([]string, len(part))
		for i, cv := range part {
			byID[cv.ID] = cv
			cv.Participants, cv.Dialogs = []botrelay.Participant{}, []botrelay.Dialog{}
			args[i] = string(cv.ID)
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		marked := strings.Join(marks, ", ")
		if err := loadDialogs(ctx, c, in, byID, marked, args); err != nil {
			return err
		}
		if err := loadParticipants(ctx, c, in, byID, marked, args); err != nil {
			return err
		}
	}
	return nil
}

// loadDialogs fills the dialogs of the conversations of byID, whose ids are
// args (marked: their placeholders).
func loadDialogs(ctx context.Context, c conn, in *interner, byID map[botrelay.ConversationID]*botrelay.Conversation, marked string, args []any) error {
	rows, err := c.query(ctx, `SELECT d.conversation_id, d.id, d.type, d.state, d.closed_by, d.created_at, d.closed_at, d.handoff_sequence,
			COALESCE((SELECT MAX(e.sequence) FROM conversation_events e WHERE e.dialog_id = d.id AND e.originator_role = 'CONSUMER'), 0)
		FROM conversation_dialogs d WHERE d.conversation_id IN (`+marked+`) ORDER BY d.conversation_id, d.position`, args...)
	if err != nil {
		return fmt.Errorf("list dialogs: %w", err)
	}
	defer rows.Close()
	var cur *botrelay.Conversation
	var buf []botrelay.Dialog // cur's, copied to their length when the next conversation's begin
	for rows.Next() {
		var cid botrelay.ConversationID
		var d botrelay.Dialog
		var created, closed int64
		if err := rows.Scan(&cid, &d.ID, &d.Type, &d.State, &d.ClosedBy, &created, &closed, &d.HandoffSequence, &d.LastConsumerSequence); err != nil {
			return fmt.Errorf("scan dialog: %w", err)
		}
		cv := byID[cid]
		if cv != cur {
			if cur != nil {
				cur.Dialogs = slices.Clone(buf)
			}
			cur, buf = cv, buf[:0]
		}
		if string(d.ID) == string(cv.ID) {
			d.ID = botrelay.DialogID(cv.ID) // the main dialog's id is the conversation's
		}
		d.Type, d.State, d.ClosedBy = intern(in, d.Type), intern(in, d.State), in.str(d.ClosedBy)
		d.CreatedAt, d.ClosedAt = fromMillis(created), fromMillis(closed)
		buf = append(buf, d)
	}
	if cur != nil {
		cur.Dialogs = slices.Clone(buf)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list dialogs: %w", err)
	}
	return nil
}

// loadParticipants fills the participants of the conversations of byID, as
// loadDialogs their dialogs.
func loadParticipants(ctx context.Context, c conn, in *interner, byID map[botrelay.ConversationID]*botrelay.Conversation, marked string, args []any) error {
	rows, err := c.query(ctx, `SELECT conversation_id, user_id, consumer_id, role, state, joined_at
		FROM conversation_participants WHERE conversation_id IN (`+marked+`) ORDER BY conversation_id, position`, args...)
	if err != nil {
		return fmt.Errorf("list participants: %w", err)
	}
	defer rows.Close()
	var cur *botrelay.Conversation
	var buf []botrelay.Participant
	for rows.Next() {
		var cid botrelay.ConversationID
		var p botrelay.Participant
		var joined int64
		if err := rows.Scan(&cid, &p.UserID, &p.ConsumerID, &p.Role, &p.State, &joined); err != nil {
			return fmt.Errorf("scan participant: %w", err)
		}
		cv := byID[cid]
		if cv != cur {
			if cur != nil {
				cur.Participants = slices.Clone(buf)
			}
			cur, buf = cv, buf[:0]
		}
		if p.ConsumerID == cv.ConsumerID {
			p.ConsumerID = cv.ConsumerID
		}
		p.Role, p.State = intern(in, p.Role), intern(in, p.State)
		p.JoinedAt = fromMillis(joined)
		buf = append(buf, p)
	}
	if cur != nil {
		cur.Participants = slices.Clone(buf)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list participants: %w", err)
	}
	return nil
}

// AppendEvent implements botrelay.ConversationStore.
func (s *Store) AppendEvent(ctx context.Context, e *botrelay.MessageEvent) error {
	if len(e.Event) == 0 || !jsonvalid.Valid(e.Event) {
		return botrelay.Errorf(botrelay.EINVALID, "event must be JSON")
	}
	if len(e.Metadata) > 0 && !jsonvalid.Valid(e.Metadata) {
		return botrelay.Errorf(botrelay.EINVALID, "metadata must be JSON")
	}
	now := s.nowTime()
	var seq int64
	outcome := func(err error) error {
		if err != nil {
			// Formatted only when needed: this runs for every message.
			notFound := fmt.Sprintf("dialog %s of conversation %s not found", e.DialogID, e.ConversationID)
			return normalize(err, "insert event", notFound, "", "")
		}
		e.Sequence, e.CreatedAt = seq, now
		return nil
	}
	// Room for one more: SQLite's sequence when the writer knows it (seqcache.go).
	args := append(make([]any, 0, 14), string(e.DialogID), string(e.ConversationID), e.Type, e.OriginatorID, e.OriginatorPID,
		string(e.OriginatorRole), e.OriginatorName, string(e.OriginatorType), e.Audience, string(e.Event), string(e.Metadata), e.EncodedMetadata,
		millis(now))
	if s.dialect == SQLite {
		return s.batched(ctx, func(ctx context.Context, c conn) error {
			var err error
			seq, err = c.appendSQLiteEvent(ctx, e.DialogID, e.ConversationID, args)
			return outcome(err)
		})
	}
	pg := &pgWrite{query: appendPostgres, args: args, dest: []any{&seq}, outcome: outcome}
	return s.batchedWrite(ctx, func(ctx context.Context, c conn) error {
		return outcome(c.queryRow(ctx, appendPostgres, args...).Scan(&seq))
	}, pg)
}

// appendSQLite is one statement that changes two pages (migration 005):
// the batcher runs SQLite's writes one at a time, so MAX + 1 is the
// dialog's next sequence. The writer then remembers the dialog's next
// sequence, and the following appends to it are plain INSERTs
// (seqcache.go).
const appendSQLite = `INSERT INTO conversation_events (dialog_id, sequence, conversation_id, type, originator_id,
		originator_pid, originator_role, originator_name, originator_type, audience, event, metadata, encoded_metadata, created_at)
	SELECT d.id, COALESCE((SELECT MAX(sequence) FROM conversation_events WHERE dialog_id = d.id), 0) + 1, d.conversation_id,
		$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
	FROM conversation_dialogs d WHERE d.id = $1 AND d.conversation_id = $2
	RETURNING sequence`

// appendPostgres is one statement, one round trip. The dialog's row lock
// orders the writers of one dialog (other nodes' among them); no row when
// the dialog does not exist.
const appendPostgres = `WITH d AS (UPDATE conversation_dialogs SET last_sequence = last_sequence + 1
		WHERE id = $1 AND conversation_id = $2 RETURNING id, conversation_id, last_sequence)
	INSERT INTO conversation_events (dialog_id, sequence, conversation_id, type, originator_id,
		originator_pid, originator_role, originator_name, originator_type, audience, event, metadata, encoded_metadata, created_at)
	SELECT d.id, d.last_sequence, d.conversation_id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
	FROM d RETURNING sequence`

// Events implements botrelay.ConversationStore.
func (s *Store) Events(ctx context.Context, conversation botrelay.ConversationID, dialog botrelay.DialogID, afterSequence int64, limit int) ([]*botrelay.MessageEvent, error) {
	q := `SELECT e.dialog_id, e.sequence, e.conversation_id, e.type, e.originator_id, e.originator_pid, e.originator_role,
			e.originator_name, e.originator_type, e.audience, e.event, e.metadata, e.encoded_metadata, e.created_at
		FROM conversation_dialogs d JOIN conversation_events e ON e.dialog_id = d.id
		WHERE d.conversation_id = $1 AND e.sequence > $2`
	args := []any{string(conversation), afterSequence}
	if dialog != "" {
		args = append(args, string(dialog))
		q += " AND d.id = $3"
	}
	q += " ORDER BY d.position, e.sequence"
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.pool().query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	out := []*botrelay.MessageEvent{}
	for rows.Next() {
		e := &botrelay.MessageEvent{}
		var event, metadata string
		var created int64
		if err := rows.Scan(&e.DialogID, &e.Sequence, &e.ConversationID, &e.Type, &e.OriginatorID, &e.OriginatorPID,
			&e.OriginatorRole, &e.OriginatorName, &e.OriginatorType, &e.Audience, &event, &metadata, &e.EncodedMetadata, &created); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		e.Event = json.RawMessage(event)
		if metadata != "" {
			e.Metadata = json.RawMessage(metadata)
		}
		e.CreatedAt = fromMillis(created)
		out = append(out, e)
	}
	return out, rows.Err()
}
