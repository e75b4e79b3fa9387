package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/botrelay/botrelay"
)

const cannedColumns = `id, account_id, title, text, created_at, updated_at`

func scanCanned(row interface{ Scan(...any) error }) (*botrelay.CannedReply, error) {
	r := &botrelay.CannedReply{}
	var created, updated int64
	if err := row.Scan(&r.ID, &r.AccountID, &r.Title, &r.Text, &created, &updated); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = fromMillis(created), fromMillis(updated)
	return r, nil
}

func cannedConflict(title string) string {
	return fmt.Sprintf("a canned reply titled %q already exists", title)
}

// CreateCannedReply implements botrelay.CannedReplyStore.
func (s *Store) CreateCannedReply(ctx context.Context, r *botrelay.CannedReply) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.CreatedAt = s.nowTime()
	r.UpdatedAt = r.CreatedAt
	err := s.pool().queryRow(ctx, `INSERT INTO canned_replies (account_id, title, title_key, text, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`,
		string(r.AccountID), r.Title, strings.ToLower(r.Title), r.Text, millis(r.CreatedAt)).Scan(&r.ID)
	return normalize(err, "insert canned reply", "", cannedConflict(r.Title),
		fmt.Sprintf("account %q does not exist", r.AccountID))
}

// CannedReply implements botrelay.CannedReplyStore.
func (s *Store) CannedReply(ctx context.Context, id botrelay.CannedReplyID) (*botrelay.CannedReply, error) {
	r, err := scanCanned(s.pool().queryRow(ctx, `SELECT `+cannedColumns+` FROM canned_replies WHERE id = $1`, int64(id)))
	return r, normalize(err, "get canned reply", fmt.Sprintf("canned reply %d not found", id), "", "")
}

// CannedReplies implements botrelay.CannedReplyStore.
func (s *Store) CannedReplies(ctx context.Context, account botrelay.AccountID) ([]*botrelay.CannedReply, error) {
	rows, err := s.pool().query(ctx, `SELECT `+cannedColumns+` FROM canned_replies WHERE account_id = $1
		ORDER BY title_key, id`, string(account))
	if err != nil {
		return nil, fmt.Errorf("list canned replies: %w", err)
	}
	defer rows.Close()
	out := []*botrelay.CannedReply{}
	for rows.Next() {
		r, err := scanCanned(rows)
		if err != nil {
			return nil, fmt.Errorf("scan canned reply: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UpdateCannedReply implements botrelay.CannedReplyStore.
func (s *Store) UpdateCannedReply(ctx context.Context, r *botrelay.CannedReply) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.UpdatedAt = s.nowTime()
	res, err := s.pool().exec(ctx, `UPDATE canned_replies SET title = $1, title_key = $2, text = $3, updated_at = $4 WHERE id = $5`,
		r.Title, strings.ToLower(r.Title), r.Text, millis(r.UpdatedAt), int64(r.ID))
	if err := mustAffect(res, err, "update canned reply", fmt.Sprintf("canned reply %d not found", r.ID), cannedConflict(r.Title)); err != nil {
		return err
	}
	cur, err := s.CannedReply(ctx, r.ID)
	if err == nil {
		*r = *cur
	}
	return err
}

// DeleteCannedReply implements botrelay.CannedReplyStore.
func (s *Store) DeleteCannedReply(ctx context.Context, id botrelay.CannedReplyID) error {
	res, err := s.pool().exec(ctx, `DELETE FROM canned_replies WHERE id = $1`, int64(id))
	return mustAffect(res, err, "delete canned reply", fmt.Sprintf("canned reply %d not found", id), "")
}
