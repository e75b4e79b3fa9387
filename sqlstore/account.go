package sqlstore

import (
	"context"

	"github.com/botrelay/botrelay"
)

// CreateAccount implements botrelay.AccountStore.
func (s *Store) CreateAccount(ctx context.Context, a *botrelay.Account) error {
	return s.inTx(ctx, func(c conn) error { return s.insertAccount(ctx, c, a) })
}

func (s *Store) insertAccount(ctx context.Context, c conn, a *botrelay.Account) error {
	if err := a.ID.Validate(); err != nil {
		return err
	}
	a.CreatedAt = s.nowTime()
	_, err := c.exec(ctx, `INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)`,
		string(a.ID), a.Name, millis(a.CreatedAt))
	return normalize(err, "insert account", "", "account "+string(a.ID)+" already exists", "")
}

// Account implements botrelay.AccountStore.
func (s *Store) Account(ctx context.Context, id botrelay.AccountID) (*botrelay.Account, error) {
	a := &botrelay.Account{}
	var created int64
	err := s.pool().queryRow(ctx, `SELECT id, name, created_at FROM accounts WHERE id = $1`, string(id)).
		Scan(&a.ID, &a.Name, &created)
	if err != nil {
		return nil, normalize(err, "get account", "account "+string(id)+" not found", "", "")
	}
	a.CreatedAt = fromMillis(created)
	return a, nil
}

// Bootstrap implements botrelay.AccountStore.
func (s *Store) Bootstrap(ctx context.Context, b *botrelay.Bootstrap) (bool, error) {
	created := false
	err := s.inTx(ctx, func(c conn) error {
		var n int
		if err := c.queryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE id = $1`, string(b.Account.ID)).Scan(&n); err != nil {
			return normalize(err, "check account", "", "", "")
		}
		if n > 0 {
			return nil
		}
		if err := s.insertAccount(ctx, c, b.Account); err != nil {
			return err
		}
		var adminProfile botrelay.ProfileID
		for _, p := range b.Profiles {
			p.AccountID = b.Account.ID
			if err := s.insertProfile(ctx, c, p); err != nil {
				return err
			}
			if adminProfile == 0 && p.Role == botrelay.RoleAdmin {
				adminProfile = p.ID
			}
		}
		for _, sk := range b.Skills {
			sk.AccountID = b.Account.ID
			if err := s.insertSkill(ctx, c, sk); err != nil {
				return err
			}
		}
		if b.Admin != nil {
			if adminProfile == 0 {
				return botrelay.Errorf(botrelay.EINVALID, "bootstrap has an admin user but no profile with role %s", botrelay.RoleAdmin)
			}
			b.Admin.AccountID = b.Account.ID
			b.Admin.ProfileID = adminProfile
			b.Admin.SkillIDs = nil
			for _, name := range b.AdminSkills {
				for _, sk := range b.Skills {
					if sk.Name == name {
						b.Admin.SkillIDs = append(b.Admin.SkillIDs, sk.ID)
					}
				}
			}
			if err := s.insertUser(ctx, c, b.Admin); err != nil {
				return err
			}
			if b.AdminPasswordHash != "" {
				if err := s.setPasswordHash(ctx, c, b.Admin.ID, b.AdminPasswordHash); err != nil {
					return err
				}
				b.Admin.HasPassword = true
			}
		}
		created = true
		return nil
	})
	return created, err
}
