package botrelay

import (
	"context"
	"time"
)

// The storage contracts. sqlstore implements them on SQLite and PostgreSQL;
// sqlstore/storetest checks any implementation against them.
//
// Every method may do I/O and is safe for concurrent use. Errors are *Error
// values with ENOTFOUND, ECONFLICT or EINVALID where the doc says so, and
// otherwise wrapped internal errors whose text is never shown to clients.
// Methods that create a record fill its ID and timestamps in place.

// AccountStore keeps accounts.
type AccountStore interface {
	// CreateAccount stores a new account. ECONFLICT when the id is taken.
	CreateAccount(ctx context.Context, a *Account) error
	// Account returns one account, or ENOTFOUND.
	Account(ctx context.Context, id AccountID) (*Account, error)
	// Bootstrap seeds a new account in one transaction (see Bootstrap). It
	// returns false and changes nothing when the account already exists, so
	// a crash during the first start never leaves a half-seeded account.
	Bootstrap(ctx context.Context, b *Bootstrap) (created bool, err error)
}

// Bootstrap is what the first start of an empty store creates: the account,
// its profiles and skills, and an administrator. Admin gets the first profile
// whose role is RoleAdmin and the skills of Skills named in AdminSkills; all
// records get their IDs filled in.
type Bootstrap struct {
	Account           *Account
	Profiles          []*Profile
	Skills            []*Skill
	Admin             *User
	AdminSkills       []string
	AdminPasswordHash string
}

// UserStore keeps users, their passwords and their API keys.
type UserStore interface {
	// CreateUser stores u (after u.Validate) with its skills and assigns ID and
	// PID. ECONFLICT when the login name is taken in the account; EINVALID
	// when the profile or a skill does not exist in the account.
	CreateUser(ctx context.Context, u *User) error
	// User returns one user, or ENOTFOUND.
	User(ctx context.Context, id UserID) (*User, error)
	// UserByLogin finds a user by login name, case-insensitively, or ENOTFOUND.
	UserByLogin(ctx context.Context, account AccountID, loginName string) (*User, error)
	// Users lists an account's users ordered by id.
	Users(ctx context.Context, account AccountID, f UserFilter) ([]*User, error)
	// UpdateUser replaces the user's editable fields and skills (not its type,
	// PID or password). ENOTFOUND, ECONFLICT and EINVALID as for CreateUser;
	// EINVALID when the type would change.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes a user with its API keys. ENOTFOUND when absent;
	// ECONFLICT while the user is bound to a bot.
	DeleteUser(ctx context.Context, id UserID) error
	// SetPasswordHash stores a password hash ("" removes the password).
	SetPasswordHash(ctx context.Context, id UserID, hash string) error
	// Credentials returns a user with its password hash for login, or ENOTFOUND.
	Credentials(ctx context.Context, account AccountID, loginName string) (*Credentials, error)

	// CreateAPIKey stores a key set for an existing user. ECONFLICT when the
	// app key is taken, ENOTFOUND when the user does not exist.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKey returns one key set by app key, or ENOTFOUND.
	APIKey(ctx context.Context, appKey string) (*APIKey, error)
	// APIKeys lists a user's key sets, oldest first.
	APIKeys(ctx context.Context, id UserID) ([]*APIKey, error)
	// DeleteAPIKey removes a key set, or ENOTFOUND.
	DeleteAPIKey(ctx context.Context, appKey string) error
	// TouchAPIKey records a successful use of the key.
	TouchAPIKey(ctx context.Context, appKey string, at time.Time) error
}

// SkillStore keeps skills.
type SkillStore interface {
	// CreateSkill stores s (after s.Validate). ECONFLICT when the name is taken.
	CreateSkill(ctx context.Context, s *Skill) error
	// Skill returns one skill, or ENOTFOUND.
	Skill(ctx context.Context, id SkillID) (*Skill, error)
	// SkillByName finds a skill by exact name, or ENOTFOUND.
	SkillByName(ctx context.Context, account AccountID, name string) (*Skill, error)
	// Skills lists an account's skills ordered by id.
	Skills(ctx context.Context, account AccountID) ([]*Skill, error)
	// UpdateSkill replaces name, description and PostSurvey. ENOTFOUND, ECONFLICT.
	UpdateSkill(ctx context.Context, s *Skill) error
	// DeleteSkill removes a skill and every user's membership in it, or ENOTFOUND.
	DeleteSkill(ctx context.Context, id SkillID) error
}

// ProfileStore keeps profiles.
type ProfileStore interface {
	// CreateProfile stores p (after p.Validate). ECONFLICT when the name is taken.
	CreateProfile(ctx context.Context, p *Profile) error
	// Profile returns one profile, or ENOTFOUND.
	Profile(ctx context.Context, id ProfileID) (*Profile, error)
	// ProfileByName finds a profile by exact name, or ENOTFOUND.
	ProfileByName(ctx context.Context, account AccountID, name string) (*Profile, error)
	// Profiles lists an account's profiles ordered by id.
	Profiles(ctx context.Context, account AccountID) ([]*Profile, error)
	// UpdateProfile replaces name, description, role and permissions.
	// ENOTFOUND; ECONFLICT for a taken name or a built-in profile.
	UpdateProfile(ctx context.Context, p *Profile) error
	// DeleteProfile removes a custom profile. ENOTFOUND; ECONFLICT for a
	// built-in profile or one still assigned to users.
	DeleteProfile(ctx context.Context, id ProfileID) error
}

// BotStore keeps the bot records the account model needs (the binding of a
// bot user to a bot).
type BotStore interface {
	// CreateBot stores b (after b.Validate) and assigns its ID when empty.
	// EINVALID when the user
	// is missing from the account or is not a bot user; ECONFLICT when the
	// user is already bound to another bot.
	CreateBot(ctx context.Context, b *Bot) error
	// Bot returns one bot, or ENOTFOUND.
	Bot(ctx context.Context, id BotID) (*Bot, error)
	// Bots lists an account's bots ordered by creation.
	Bots(ctx context.Context, account AccountID) ([]*Bot, error)
	// UpdateBot replaces name, bound user, settings and secrets, with
	// CreateBot's rules; type, conversation type and vendor never change.
	UpdateBot(ctx context.Context, b *Bot) error
	// SetBotStarted records whether the operator started the bot.
	SetBotStarted(ctx context.Context, id BotID, started bool) error
	// DeleteBot removes a bot and so releases its user, or ENOTFOUND.
	DeleteBot(ctx context.Context, id BotID) error
}

// Store is everything the store keeps.
type Store interface {
	AccountStore
	UserStore
	SkillStore
	ProfileStore
	BotStore
	ConversationStore
	ConversationSearchStore
	RelayStore
	SurveyStore
	APISessionStore
	HubStore
	BotStatsStore
	CannedReplyStore
	CommandStore
	WebhookStore
	StandInStore
	// Close releases the store's connections after in-flight calls finish.
	Close() error
}
