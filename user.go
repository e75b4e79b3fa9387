package botrelay

import (
	"regexp"
	"time"
)

// UserID identifies a user within its account. Like LivePerson user ids it is
// a number; the messaging protocol shows it as "<account>.<id>".
type UserID int64

// UserType tells humans from bots. A bot user logs in with an API key and is
// driven by the connector; it is bound to at most one bot.
type UserType string

// The user types.
const (
	UserHuman UserType = "HUMAN"
	UserBot   UserType = "BOT"
)

// Valid reports whether t is one of the user types.
func (t UserType) Valid() bool { return t == UserHuman || t == UserBot }

// User is a person or a bot that can log in to the platform and hold
// conversations.
type User struct {
	ID        UserID
	AccountID AccountID
	// PID is the user's participant id in the messaging protocol (a UUID,
	// LivePerson's "userPid"). It is assigned by the store and never changes.
	PID       string
	Type      UserType
	LoginName string // unique within the account, compared case-insensitively
	Nickname  string // the name consumers see; defaults to LoginName
	Email     string
	ProfileID ProfileID
	// ChatSlots and MessagingSlots are the most chat and messaging
	// conversations the user may hold at once. Zero means none of that kind.
	ChatSlots      int
	MessagingSlots int
	SkillIDs       []SkillID // sorted ascending
	Enabled        bool
	// HasPassword reports whether a password is set; the hash itself never
	// leaves the store except through Credentials.
	HasPassword bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// DefaultSlots are the chat and messaging slots a user of type t gets when
// it is created without them: a human agent takes 4 chats and 10 messaging
// conversations at once; a bot takes as many messaging conversations as a
// bot may hold (DefaultMaxOpenConversations, F5) and no chats.
func DefaultSlots(t UserType) (chat, messaging int) {
	if t == UserBot {
		return 0, DefaultMaxOpenConversations
	}
	return 4, 10
}

// MaxSlots bounds ChatSlots and MessagingSlots. It is far above anything a
// person can handle and leaves room for bots with high caps (F5).
const MaxSlots = 100000

var loginNamePattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N}._@+-]{0,127}$`)

// Validate normalises u (trims names, fills Nickname) and reports the first
// rule it breaks as an EINVALID error that names the field.
func (u *User) Validate() error {
	u.LoginName = trimmed(u.LoginName)
	u.Nickname = trimmed(u.Nickname)
	u.Email = trimmed(u.Email)
	if !u.Type.Valid() {
		return Errorf(EINVALID, "type must be %s or %s", UserHuman, UserBot)
	}
	if !loginNamePattern.MatchString(u.LoginName) {
		return Errorf(EINVALID, "loginName %q must be 1 to 128 letters, digits or . _ @ + - and start with a letter or digit", u.LoginName)
	}
	if u.Nickname == "" {
		u.Nickname = u.LoginName
	}
	if len(u.Nickname) > 128 {
		return Errorf(EINVALID, "nickname must be at most 128 bytes")
	}
	if len(u.Email) > 254 {
		return Errorf(EINVALID, "email must be at most 254 bytes")
	}
	if u.ChatSlots < 0 || u.ChatSlots > MaxSlots {
		return Errorf(EINVALID, "chatSlots must be between 0 and %d", MaxSlots)
	}
	if u.MessagingSlots < 0 || u.MessagingSlots > MaxSlots {
		return Errorf(EINVALID, "messagingSlots must be between 0 and %d", MaxSlots)
	}
	if u.ProfileID <= 0 {
		return Errorf(EINVALID, "profileId is required")
	}
	return nil
}

// UserFilter selects users in UserStore.Users. Zero fields match everything.
type UserFilter struct {
	Type    UserType
	SkillID SkillID
}

// APIKey is the key set a user (usually a bot user) logs in with, in the shape
// LivePerson uses: an app key and an access token identify the key, a secret
// and an access-token secret prove possession. Only the two identifiers are
// stored in clear; both secrets are stored as hashes and shown once, when the
// key is created (see NewAPIKey).
type APIKey struct {
	AppKey      string // the key's id; unique
	UserID      UserID
	AccessToken string
	Description string
	// SecretHash and AccessTokenSecretHash are hashes made by the auth
	// package; the store treats them as opaque.
	SecretHash            string
	AccessTokenSecretHash string
	CreatedAt             time.Time
	LastUsedAt            time.Time // zero when never used
}

// Credentials is what the store hands to the login code for one user: the
// user and its password hash ("" when no password is set).
type Credentials struct {
	User         *User
	PasswordHash string
}
