package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/uuid"
)

const userColumns = `id, account_id, pid, type, login_name, nickname, email, profile_id,
	chat_slots, messaging_slots, enabled, password_hash <> '', created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (*botrelay.User, error) {
	u := &botrelay.User{}
	var created, updated int64
	if err := row.Scan(&u.ID, &u.AccountID, &u.PID, &u.Type, &u.LoginName, &u.Nickname, &u.Email, &u.ProfileID,
		&u.ChatSlots, &u.MessagingSlots, &u.Enabled, &u.HasPassword, &created, &updated); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(updated)
	u.SkillIDs = []botrelay.SkillID{}
	return u, nil
}

// loginKey folds a login name for uniqueness and look-up.
func loginKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// CreateUser implements botrelay.UserStore.
func (s *Store) CreateUser(ctx context.Context, u *botrelay.User) error {
	return s.inTx(ctx, func(c conn) error { return s.insertUser(ctx, c, u) })
}

func (s *Store) insertUser(ctx context.Context, c conn, u *botrelay.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	if err := s.checkUserRefs(ctx, c, u); err != nil {
		return err
	}
	u.PID = uuid.New()
	u.CreatedAt = s.nowTime()
	u.UpdatedAt = u.CreatedAt
	err := c.queryRow(ctx, `INSERT INTO users (account_id, pid, type, login_name, login_key, nickname, email, profile_id,
			chat_slots, messaging_slots, enabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id`,
		string(u.AccountID), u.PID, string(u.Type), u.LoginName, loginKey(u.LoginName), u.Nickname, u.Email, int64(u.ProfileID),
		u.ChatSlots, u.MessagingSlots, u.Enabled, millis(u.CreatedAt)).Scan(&u.ID)
	if err != nil {
		return normalize(err, "insert user", "", fmt.Sprintf("login name %q is taken", u.LoginName),
			fmt.Sprintf("account %q does not exist", u.AccountID))
	}
	return s.writeUserSkills(ctx, c, u)
}

// checkUserRefs makes sure the profile and skills exist in the user's
// account; foreign keys alone would accept another account's rows.
func (s *Store) checkUserRefs(ctx context.Context, c conn, u *botrelay.User) error {
	var n int
	if err := c.queryRow(ctx, `SELECT COUNT(*) FROM profiles WHERE id = $1 AND account_id = $2`,
		int64(u.ProfileID), string(u.AccountID)).Scan(&n); err != nil {
		return fmt.Errorf("check profile: %w", err)
	}
	if n == 0 {
		return botrelay.Errorf(botrelay.EINVALID, "profile %d does not exist", u.ProfileID)
	}
	slices.Sort(u.SkillIDs)
	u.SkillIDs = slices.Compact(u.SkillIDs)
	for _, id := range u.SkillIDs {
		if err := c.queryRow(ctx, `SELECT COUNT(*) FROM skills WHERE id = $1 AND account_id = $2`,
			int64(id), string(u.AccountID)).Scan(&n); err != nil {
			return fmt.Errorf("check skill: %w", err)
		}
		if n == 0 {
			return botrelay.Errorf(botrelay.EINVALID, "skill %d does not exist", id)
		}
	}
	if u.SkillIDs == nil {
		u.SkillIDs = []botrelay.SkillID{}
	}
	return nil
}

func (s *Store) writeUserSkills(ctx context.Context, c conn, u *botrelay.User) error {
	if _, err := c.exec(ctx, `DELETE FROM user_skills WHERE user_id = $1`, int64(u.ID)); err != nil {
		return fmt.Errorf("clear user skills: %w", err)
	}
	for _, id := range u.SkillIDs {
		if _, err := c.exec(ctx, `INSERT INTO user_skills (user_id, skill_id) VALUES ($1, $2)`, int64(u.ID), int64(id)); err != nil {
			return normalize(err, "insert user skill", "", "", fmt.Sprintf("skill %d does not exist", id))
		}
	}
	return nil
}

// loadSkills fills SkillIDs of the given users.
func (s *Store) loadSkills(ctx context.Context, c conn, where string, arg any, byID map[botrelay.UserID]*botrelay.User) error {
	rows, err := c.query(ctx, `SELECT us.user_id, us.skill_id FROM user_skills us
		JOIN users u ON u.id = us.user_id WHERE `+where+` ORDER BY us.user_id, us.skill_id`, arg)
	if err != nil {
		return fmt.Errorf("list user skills: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var uid botrelay.UserID
		var sid botrelay.SkillID
		if err := rows.Scan(&uid, &sid); err != nil {
			return fmt.Errorf("scan user skill: %w", err)
		}
		if u := byID[uid]; u != nil {
			u.SkillIDs = append(u.SkillIDs, sid)
		}
	}
	return rows.Err()
}

func (s *Store) oneUser(ctx context.Context, where string, args []any, notFound string) (*botrelay.User, error) {
	c := s.pool()
	u, err := scanUser(c.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, args...))
	if err != nil {
		return nil, normalize(err, "get user", notFound, "", "")
	}
	err = s.loadSkills(ctx, c, "u.id = $1", int64(u.ID), map[botrelay.UserID]*botrelay.User{u.ID: u})
	return u, err
}

// User implements botrelay.UserStore.
func (s *Store) User(ctx context.Context, id botrelay.UserID) (*botrelay.User, error) {
	return s.oneUser(ctx, `id = $1`, []any{int64(id)}, fmt.Sprintf("user %d not found", id))
}

// UserByLogin implements botrelay.UserStore.
func (s *Store) UserByLogin(ctx context.Context, account botrelay.AccountID, loginName string) (*botrelay.User, error) {
	return s.oneUser(ctx, `account_id = $1 AND login_key = $2`, []any{string(account), loginKey(loginName)},
		fmt.Sprintf("user %q not found", loginName))
}

// Users implements botrelay.UserStore.
func (s *Store) Users(ctx context.Context, account botrelay.AccountID, f botrelay.UserFilter) ([]*botrelay.User, error) {
	c := s.pool()
	q := `SELECT ` + userColumns + ` FROM users WHERE account_id = $1`
	args := []any{string(account)}
	if f.Type != "" {
		args = append(args, string(f.Type))
		q += fmt.Sprintf(" AND type = $%d", len(args))
	}
	if f.SkillID != 0 {
		args = append(args, int64(f.SkillID))
		q += fmt.Sprintf(" AND id IN (SELECT user_id FROM user_skills WHERE skill_id = $%d)", len(args))
	}
	rows, err := c.query(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	var out []*botrelay.User
	byID := map[botrelay.UserID]*botrelay.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan user: %w", err)
		}
		out = append(out, u)
		byID[u.ID] = u
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.loadSkills(ctx, c, "u.account_id = $1", string(account), byID)
}

// UpdateUser implements botrelay.UserStore.
func (s *Store) UpdateUser(ctx context.Context, u *botrelay.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	err := s.inTx(ctx, func(c conn) error {
		var typ botrelay.UserType
		var account botrelay.AccountID
		if err := c.queryRow(ctx, `SELECT type, account_id FROM users WHERE id = $1`, int64(u.ID)).Scan(&typ, &account); err != nil {
			return normalize(err, "get user", fmt.Sprintf("user %d not found", u.ID), "", "")
		}
		if typ != u.Type {
			return botrelay.Errorf(botrelay.EINVALID, "type cannot change from %s to %s; create a new user instead", typ, u.Type)
		}
		u.AccountID = account
		if err := s.checkUserRefs(ctx, c, u); err != nil {
			return err
		}
		_, err := c.exec(ctx, `UPDATE users SET login_name = $1, login_key = $2, nickname = $3, email = $4, profile_id = $5,
				chat_slots = $6, messaging_slots = $7, enabled = $8, updated_at = $9
			WHERE id = $10`,
			u.LoginName, loginKey(u.LoginName), u.Nickname, u.Email, int64(u.ProfileID),
			u.ChatSlots, u.MessagingSlots, u.Enabled, millis(s.nowTime()), int64(u.ID))
		if err != nil {
			return normalize(err, "update user", "", fmt.Sprintf("login name %q is taken", u.LoginName), "")
		}
		return s.writeUserSkills(ctx, c, u)
	})
	if err != nil {
		return err
	}
	cur, err := s.User(ctx, u.ID)
	if err == nil {
		*u = *cur
	}
	return err
}

// DeleteUser implements botrelay.UserStore.
func (s *Store) DeleteUser(ctx context.Context, id botrelay.UserID) error {
	return s.inTx(ctx, func(c conn) error {
		var bots int
		if err := c.queryRow(ctx, `SELECT COUNT(*) FROM bots WHERE user_id = $1`, int64(id)).Scan(&bots); err != nil {
			return fmt.Errorf("count user bots: %w", err)
		}
		if bots > 0 {
			return botrelay.Errorf(botrelay.ECONFLICT, "user %d is bound to a bot; delete the bot or bind it to another user first", id)
		}
		res, err := c.exec(ctx, `DELETE FROM users WHERE id = $1`, int64(id))
		return mustAffect(res, err, "delete user", fmt.Sprintf("user %d not found", id), "")
	})
}

// SetPasswordHash implements botrelay.UserStore.
func (s *Store) SetPasswordHash(ctx context.Context, id botrelay.UserID, hash string) error {
	return s.setPasswordHash(ctx, s.pool(), id, hash)
}

func (s *Store) setPasswordHash(ctx context.Context, c conn, id botrelay.UserID, hash string) error {
	res, err := c.exec(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`,
		hash, millis(s.nowTime()), int64(id))
	return mustAffect(res, err, "set password", fmt.Sprintf("user %d not found", id), "")
}

// Credentials implements botrelay.UserStore.
func (s *Store) Credentials(ctx context.Context, account botrelay.AccountID, loginName string) (*botrelay.Credentials, error) {
	u, err := s.UserByLogin(ctx, account, loginName)
	if err != nil {
		return nil, err
	}
	cr := &botrelay.Credentials{User: u}
	err = s.pool().queryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, int64(u.ID)).Scan(&cr.PasswordHash)
	return cr, normalize(err, "get password", fmt.Sprintf("user %q not found", loginName), "", "")
}

const apiKeyColumns = `app_key, user_id, access_token, description, secret_hash, access_token_secret_hash, created_at, last_used_at`

func scanAPIKey(row interface{ Scan(...any) error }) (*botrelay.APIKey, error) {
	k := &botrelay.APIKey{}
	var created, used int64
	if err := row.Scan(&k.AppKey, &k.UserID, &k.AccessToken, &k.Description, &k.SecretHash, &k.AccessTokenSecretHash,
		&created, &used); err != nil {
		return nil, err
	}
	k.CreatedAt, k.LastUsedAt = fromMillis(created), fromMillis(used)
	return k, nil
}

// CreateAPIKey implements botrelay.UserStore.
func (s *Store) CreateAPIKey(ctx context.Context, k *botrelay.APIKey) error {
	if k.AppKey == "" || k.AccessToken == "" || k.SecretHash == "" || k.AccessTokenSecretHash == "" {
		return botrelay.Errorf(botrelay.EINVALID, "an API key needs an app key, an access token and both secret hashes")
	}
	if _, err := s.User(ctx, k.UserID); err != nil {
		return err
	}
	k.CreatedAt = s.nowTime()
	k.LastUsedAt = time.Time{}
	_, err := s.pool().exec(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, 0)`,
		k.AppKey, int64(k.UserID), k.AccessToken, k.Description, k.SecretHash, k.AccessTokenSecretHash, millis(k.CreatedAt))
	return normalize(err, "insert api key", "", "app key is taken", fmt.Sprintf("user %d not found", k.UserID))
}

// APIKey implements botrelay.UserStore.
func (s *Store) APIKey(ctx context.Context, appKey string) (*botrelay.APIKey, error) {
	k, err := scanAPIKey(s.pool().queryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE app_key = $1`, appKey))
	return k, normalize(err, "get api key", "API key not found", "", "")
}

// APIKeys implements botrelay.UserStore.
func (s *Store) APIKeys(ctx context.Context, id botrelay.UserID) ([]*botrelay.APIKey, error) {
	rows, err := s.pool().query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE user_id = $1 ORDER BY created_at, app_key`, int64(id))
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []*botrelay.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("scan api key: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// DeleteAPIKey implements botrelay.UserStore.
func (s *Store) DeleteAPIKey(ctx context.Context, appKey string) error {
	res, err := s.pool().exec(ctx, `DELETE FROM api_keys WHERE app_key = $1`, appKey)
	return mustAffect(res, err, "delete api key", "API key not found", "")
}

// TouchAPIKey implements botrelay.UserStore.
func (s *Store) TouchAPIKey(ctx context.Context, appKey string, at time.Time) error {
	res, err := s.pool().exec(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE app_key = $2`, millis(at), appKey)
	return mustAffect(res, err, "touch api key", "API key not found", "")
}
