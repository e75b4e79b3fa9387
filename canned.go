package botrelay

import (
	"context"
	"time"
	"unicode/utf8"
)

// CannedReplyID identifies a canned reply within its account.
type CannedReplyID int64

// CannedReply is a ready-made answer of an account that human agents insert
// into the console's composer: typing "/" and part of the title filters the
// account's list. Admins manage them (PermCannedManage); agents read them
// (PermCannedView).
type CannedReply struct {
	ID        CannedReplyID
	AccountID AccountID
	// Title is the short name agents filter by; unique in the account,
	// case-insensitively.
	Title     string
	Text      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Limits of a canned reply, in characters.
const (
	MaxCannedTitle = 80
	MaxCannedText  = 4000
)

// Validate normalises r and reports the first rule it breaks.
func (r *CannedReply) Validate() error {
	r.Title = trimmed(r.Title)
	r.Text = trimmed(r.Text)
	if r.Title == "" || utf8.RuneCountInString(r.Title) > MaxCannedTitle {
		return Errorf(EINVALID, "title must be 1 to %d characters", MaxCannedTitle)
	}
	if r.Text == "" || utf8.RuneCountInString(r.Text) > MaxCannedText {
		return Errorf(EINVALID, "text must be 1 to %d characters", MaxCannedText)
	}
	return nil
}

// CannedReplyStore keeps the accounts' canned replies.
type CannedReplyStore interface {
	// CreateCannedReply stores r (after r.Validate) and fills its ID and
	// times. ECONFLICT when the account has a reply with the same title
	// (case-insensitively).
	CreateCannedReply(ctx context.Context, r *CannedReply) error
	// CannedReply returns one reply, or ENOTFOUND.
	CannedReply(ctx context.Context, id CannedReplyID) (*CannedReply, error)
	// CannedReplies lists an account's replies ordered by title
	// (case-insensitively), then id.
	CannedReplies(ctx context.Context, account AccountID) ([]*CannedReply, error)
	// UpdateCannedReply replaces the title and text (after r.Validate).
	// ENOTFOUND when absent, ECONFLICT as for CreateCannedReply.
	UpdateCannedReply(ctx context.Context, r *CannedReply) error
	// DeleteCannedReply removes a reply, or ENOTFOUND.
	DeleteCannedReply(ctx context.Context, id CannedReplyID) error
}
