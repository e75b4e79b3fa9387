package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

var _ botrelay.ConversationSearchStore = (*Store)(nil)

// recordChanges writes the system events that turn old (nil for a new
// conversation) into nc, and keeps the consumer's name for the search, in
// the caller's transaction (migration 010).
func recordChanges(ctx context.Context, c conn, old, nc *botrelay.Conversation, at time.Time) error {
	for _, ch := range botrelay.DiffConversation(old, nc, at) {
		_, err := c.exec(ctx, `INSERT INTO conversation_changes
				(conversation_id, kind, user_id, role, skill_id, from_skill_id, ttr_type, manual_ettr, value, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			string(ch.ConversationID), string(ch.Kind), int64(ch.UserID), string(ch.Role), int64(ch.SkillID),
			int64(ch.FromSkillID), string(ch.TTR), millis(ch.ManualETTR), ch.Value, millis(ch.At))
		if err != nil {
			return fmt.Errorf("insert conversation change: %w", err)
		}
	}
	name := botrelay.ConsumerName(nc.Context)
	if old == nil && name == "" || old != nil && botrelay.ConsumerName(old.Context) == name {
		return nil
	}
	if _, err := c.exec(ctx, `UPDATE conversations SET consumer_name = $1 WHERE id = $2`, name, string(nc.ID)); err != nil {
		return fmt.Errorf("set consumer name: %w", err)
	}
	return nil
}

// storedConversation reads a conversation with its parts on c: the pool
// (Conversation), or a transaction before UpdateConversation changes it.
func (s *Store) storedConversation(ctx context.Context, c conn, id botrelay.ConversationID) (*botrelay.Conversation, error) {
	cv, err := scanConversation(c.queryRow(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = $1`, string(id)))
	if err != nil {
		return nil, normalize(err, "get conversation", fmt.Sprintf("conversation %s not found", id), "", "")
	}
	if err := s.loadConversationParts(ctx, c, []*botrelay.Conversation{cv}); err != nil {
		return nil, err
	}
	return cv, nil
}

// SearchConversations implements botrelay.ConversationSearchStore.
func (s *Store) SearchConversations(ctx context.Context, account botrelay.AccountID, q botrelay.ConversationQuery) ([]*botrelay.Conversation, error) {
	if q.Limit < 1 || q.Limit > botrelay.MaxConversationSearch {
		return nil, botrelay.Errorf(botrelay.EINVALID, "limit must be between 1 and %d", botrelay.MaxConversationSearch)
	}
	where, args := searchWhere(account, q)
	args = append(args, q.Limit)
	query := `SELECT ` + conversationColumns + ` FROM conversations c WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY c.created_at DESC, c.id DESC LIMIT $%d", len(args))
	c := s.pool()
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search conversations: %w", err)
	}
	out := []*botrelay.Conversation{}
	for rows.Next() {
		cv, err := scanConversation(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan conversation: %w", err)
		}
		out = append(out, cv)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search conversations: %w", err)
	}
	if err := s.loadConversationParts(ctx, c, out); err != nil {
		return nil, err
	}
	return out, nil
}

// searchWhere builds the conditions of SearchConversations and their
// arguments.
func searchWhere(account botrelay.AccountID, q botrelay.ConversationQuery) ([]string, []any) {
	where := []string{"c.account_id = $1"}
	args := []any{string(account)}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.Consumer != "" {
		cond := "c.consumer_id = " + arg(q.Consumer) + " OR LOWER(c.consumer_name) LIKE " +
			arg("%"+likeEscape(strings.ToLower(q.Consumer))+"%") + ` ESCAPE '\'`
		prefix := strings.ToLower(strings.TrimSpace(q.Consumer))
		if p, ok := strings.CutPrefix(prefix, "consumer "); ok {
			prefix = strings.TrimSpace(p)
		}
		if len(prefix) >= 4 {
			cond += " OR c.consumer_id LIKE " + arg(likeEscape(prefix)+"%") + ` ESCAPE '\'`
		}
		where = append(where, "("+cond+")")
	}
	if q.BotID != "" {
		where = append(where, "EXISTS (SELECT 1 FROM bot_conversations b WHERE b.conversation_id = c.id AND b.bot_id = "+
			arg(string(q.BotID))+")")
	}
	if q.SkillID != 0 {
		m := arg(int64(q.SkillID))
		where = append(where, "(c.skill_id = "+m+" OR EXISTS (SELECT 1 FROM conversation_changes h WHERE h.conversation_id = c.id AND h.kind = '"+
			string(botrelay.ChangeTransferred)+"' AND (h.skill_id = "+m+" OR h.from_skill_id = "+m+")))")
	}
	if q.State != "" {
		where = append(where, "c.state = "+arg(string(q.State)))
	}
	if !q.From.IsZero() {
		where = append(where, "c.created_at >= "+arg(millis(q.From)))
	}
	if !q.To.IsZero() {
		where = append(where, "c.created_at < "+arg(millis(q.To)))
	}
	if q.Participant != 0 {
		u := arg(int64(q.Participant))
		where = append(where, "(EXISTS (SELECT 1 FROM conversation_participants p WHERE p.conversation_id = c.id AND p.user_id = "+u+
			" AND p.state = 'ACTIVE') OR EXISTS (SELECT 1 FROM conversation_changes h WHERE h.conversation_id = c.id AND h.user_id = "+u+
			" AND h.kind = '"+string(botrelay.ChangeJoined)+"'))")
	}
	if q.After != nil {
		t := arg(millis(q.After.CreatedAt))
		where = append(where, "(c.created_at < "+t+" OR (c.created_at = "+t+" AND c.id < "+arg(string(q.After.ID))+"))")
	}
	return where, args
}

// likeEscape escapes LIKE's wildcards in s.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ConversationChanges implements botrelay.ConversationSearchStore.
func (s *Store) ConversationChanges(ctx context.Context, id botrelay.ConversationID) ([]*botrelay.ConversationChange, error) {
	rows, err := s.pool().query(ctx, `SELECT conversation_id, kind, user_id, role, skill_id, from_skill_id, ttr_type, manual_ettr, value, at
		FROM conversation_changes WHERE conversation_id = $1 ORDER BY seq`, string(id))
	if err != nil {
		return nil, fmt.Errorf("list conversation changes: %w", err)
	}
	defer rows.Close()
	out := []*botrelay.ConversationChange{}
	for rows.Next() {
		ch := &botrelay.ConversationChange{}
		var ettr, at int64
		if err := rows.Scan(&ch.ConversationID, &ch.Kind, &ch.UserID, &ch.Role, &ch.SkillID, &ch.FromSkillID, &ch.TTR,
			&ettr, &ch.Value, &at); err != nil {
			return nil, fmt.Errorf("scan conversation change: %w", err)
		}
		ch.ManualETTR, ch.At = fromMillis(ettr), fromMillis(at)
		out = append(out, ch)
	}
	return out, rows.Err()
}

// ConversationBotErrors implements botrelay.ConversationSearchStore.
func (s *Store) ConversationBotErrors(ctx context.Context, id botrelay.ConversationID) ([]*botrelay.BotError, error) {
	rows, err := s.pool().query(ctx, `SELECT id, bot_id, conversation_id, code, message, details, at FROM bot_errors
		WHERE conversation_id = $1 AND at >= $2 ORDER BY seq`, string(id), millis(s.nowTime().Add(-botrelay.BotErrorMaxAge)))
	if err != nil {
		return nil, fmt.Errorf("list conversation errors: %w", err)
	}
	defer rows.Close()
	return scanBotErrors(rows, []*botrelay.BotError{})
}

// ConversationBots implements botrelay.ConversationSearchStore.
func (s *Store) ConversationBots(ctx context.Context, ids []botrelay.ConversationID) (map[botrelay.ConversationID][]botrelay.BotID, error) {
	out := map[botrelay.ConversationID][]botrelay.BotID{}
	const batch = 200
	for start := 0; start < len(ids); start += batch {
		part := ids[start:min(start+batch, len(ids))]
		args := make([]any, len(part))
		marks := make([]string, len(part))
		for i, id := range part {
			args[i], marks[i] = string(id), fmt.Sprintf("$%d", i+1)
		}
		rows, err := s.pool().query(ctx, `SELECT conversation_id, bot_id FROM bot_conversations
			WHERE conversation_id IN (`+strings.Join(marks, ", ")+`) ORDER BY conversation_id, created_at, bot_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("list conversation bots: %w", err)
		}
		for rows.Next() {
			var cid botrelay.ConversationID
			var bid botrelay.BotID
			if err := rows.Scan(&cid, &bid); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan conversation bot: %w", err)
			}
			out[cid] = append(out[cid], bid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list conversation bots: %w", err)
		}
	}
	return out, nil
}

// Participated implements botrelay.ConversationSearchStore.
func (s *Store) Participated(ctx context.Context, id botrelay.ConversationID, user botrelay.UserID) (bool, error) {
	var n int
	err := s.pool().queryRow(ctx, `SELECT
			(SELECT COUNT(*) FROM conversation_participants WHERE conversation_id = $1 AND user_id = $2 AND state = 'ACTIVE') +
			(SELECT COUNT(*) FROM conversation_changes WHERE conversation_id = $1 AND user_id = $2 AND kind = $3)`,
		string(id), int64(user), string(botrelay.ChangeJoined)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check participation: %w", err)
	}
	return n > 0, nil
}
