package sqlstore

import (
	"context"
	"fmt"

	"github.com/botrelay/botrelay"
)

const profileColumns = `id, account_id, name, description, role, built_in, created_at, updated_at`

func scanProfile(row interface{ Scan(...any) error }) (*botrelay.Profile, error) {
	p := &botrelay.Profile{}
	var created, updated int64
	if err := row.Scan(&p.ID, &p.AccountID, &p.Name, &p.Description, &p.Role, &p.BuiltIn, &created, &updated); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = fromMillis(created), fromMillis(updated)
	return p, nil
}

// CreateProfile implements botrelay.ProfileStore.
func (s *Store) CreateProfile(ctx context.Context, p *botrelay.Profile) error {
	return s.inTx(ctx, func(c conn) error { return s.insertProfile(ctx, c, p) })
}

func (s *Store) insertProfile(ctx context.Context, c conn, p *botrelay.Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p.CreatedAt = s.nowTime()
	p.UpdatedAt = p.CreatedAt
	err := c.queryRow(ctx, `INSERT INTO profiles (account_id, name, description, role, built_in, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
		string(p.AccountID), p.Name, p.Description, string(p.Role), p.BuiltIn, millis(p.CreatedAt)).Scan(&p.ID)
	if err != nil {
		return normalize(err, "insert profile", "", fmt.Sprintf("a profile named %q already exists", p.Name),
			fmt.Sprintf("account %q does not exist", p.AccountID))
	}
	return s.writePermissions(ctx, c, p)
}

func (s *Store) writePermissions(ctx context.Context, c conn, p *botrelay.Profile) error {
	if _, err := c.exec(ctx, `DELETE FROM profile_permissions WHERE profile_id = $1`, int64(p.ID)); err != nil {
		return fmt.Errorf("clear permissions: %w", err)
	}
	for _, perm := range p.Permissions {
		if _, err := c.exec(ctx, `INSERT INTO profile_permissions (profile_id, permission) VALUES ($1, $2)`,
			int64(p.ID), string(perm)); err != nil {
			return fmt.Errorf("insert permission: %w", err)
		}
	}
	return nil
}

// loadPermissions fills the Permissions of the given profiles.
func (s *Store) loadPermissions(ctx context.Context, c conn, where string, arg any, byID map[botrelay.ProfileID]*botrelay.Profile) error {
	rows, err := c.query(ctx, `SELECT pp.profile_id, pp.permission FROM profile_permissions pp
		JOIN profiles p ON p.id = pp.profile_id WHERE `+where+` ORDER BY pp.profile_id, pp.permission`, arg)
	if err != nil {
		return fmt.Errorf("list permissions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id botrelay.ProfileID
		var perm botrelay.Permission
		if err := rows.Scan(&id, &perm); err != nil {
			return fmt.Errorf("scan permission: %w", err)
		}
		if p := byID[id]; p != nil {
			p.Permissions = append(p.Permissions, perm)
		}
	}
	return rows.Err()
}

func (s *Store) oneProfile(ctx context.Context, where string, arg []any, notFound string) (*botrelay.Profile, error) {
	c := s.pool()
	p, err := scanProfile(c.queryRow(ctx, `SELECT `+profileColumns+` FROM profiles WHERE `+where, arg...))
	if err != nil {
		return nil, normalize(err, "get profile", notFound, "", "")
	}
	p.Permissions = []botrelay.Permission{}
	err = s.loadPermissions(ctx, c, "p.id = $1", int64(p.ID), map[botrelay.ProfileID]*botrelay.Profile{p.ID: p})
	return p, err
}

// Profile implements botrelay.ProfileStore.
func (s *Store) Profile(ctx context.Context, id botrelay.ProfileID) (*botrelay.Profile, error) {
	return s.oneProfile(ctx, `id = $1`, []any{int64(id)}, fmt.Sprintf("profile %d not found", id))
}

// ProfileByName implements botrelay.ProfileStore.
func (s *Store) ProfileByName(ctx context.Context, account botrelay.AccountID, name string) (*botrelay.Profile, error) {
	return s.oneProfile(ctx, `account_id = $1 AND name = $2`, []any{string(account), name}, fmt.Sprintf("profile %q not found", name))
}

// Profiles implements botrelay.ProfileStore.
func (s *Store) Profiles(ctx context.Context, account botrelay.AccountID) ([]*botrelay.Profile, error) {
	c := s.pool()
	rows, err := c.query(ctx, `SELECT `+profileColumns+` FROM profiles WHERE account_id = $1 ORDER BY id`, string(account))
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	var out []*botrelay.Profile
	byID := map[botrelay.ProfileID]*botrelay.Profile{}
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan profile: %w", err)
		}
		p.Permissions = []botrelay.Permission{}
		out = append(out, p)
		byID[p.ID] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.loadPermissions(ctx, c, "p.account_id = $1", string(account), byID)
}

// UpdateProfile implements botrelay.ProfileStore.
func (s *Store) UpdateProfile(ctx context.Context, p *botrelay.Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	err := s.inTx(ctx, func(c conn) error {
		var builtIn bool
		if err := c.queryRow(ctx, `SELECT built_in FROM profiles WHERE id = $1`, int64(p.ID)).Scan(&builtIn); err != nil {
			return normalize(err, "get profile", fmt.Sprintf("profile %d not found", p.ID), "", "")
		}
		if builtIn {
			return botrelay.Errorf(botrelay.ECONFLICT, "profile %d is built in and cannot be changed; create a custom profile instead", p.ID)
		}
		_, err := c.exec(ctx, `UPDATE profiles SET name = $1, description = $2, role = $3, updated_at = $4 WHERE id = $5`,
			p.Name, p.Description, string(p.Role), millis(s.nowTime()), int64(p.ID))
		if err != nil {
			return normalize(err, "update profile", "", fmt.Sprintf("a profile named %q already exists", p.Name), "")
		}
		return s.writePermissions(ctx, c, p)
	})
	if err != nil {
		return err
	}
	cur, err := s.Profile(ctx, p.ID)
	if err == nil {
		*p = *cur
	}
	return err
}

// DeleteProfile implements botrelay.ProfileStore.
func (s *Store) DeleteProfile(ctx context.Context, id botrelay.ProfileID) error {
	return s.inTx(ctx, func(c conn) error {
		var builtIn bool
		if err := c.queryRow(ctx, `SELECT built_in FROM profiles WHERE id = $1`, int64(id)).Scan(&builtIn); err != nil {
			return normalize(err, "get profile", fmt.Sprintf("profile %d not found", id), "", "")
		}
		if builtIn {
			return botrelay.Errorf(botrelay.ECONFLICT, "profile %d is built in and cannot be deleted", id)
		}
		var users int
		if err := c.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE profile_id = $1`, int64(id)).Scan(&users); err != nil {
			return fmt.Errorf("count profile users: %w", err)
		}
		if users > 0 {
			return botrelay.Errorf(botrelay.ECONFLICT, "profile %d is assigned to %d user(s); give them another profile first", id, users)
		}
		_, err := c.exec(ctx, `DELETE FROM profiles WHERE id = $1`, int64(id))
		return normalize(err, "delete profile", "", "", "")
	})
}
