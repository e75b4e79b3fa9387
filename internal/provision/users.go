package provision

import (
	"context"

	"github.com/botrelay/botrelay"
)

// CreateUser stores u, already checked, with the password hash (none when
// empty). A bot user gets an API key set, returned with its secrets to be
// shown once; a human gets none (nil).
func (p *Provisioner) CreateUser(ctx context.Context, u *botrelay.User, passwordHash string) (*IssuedKey, error) {
	if err := p.o.Store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	if passwordHash != "" {
		if err := p.o.Store.SetPasswordHash(ctx, u.ID, passwordHash); err != nil {
			return nil, err
		}
		u.HasPassword = true
	}
	if u.Type != botrelay.UserBot {
		return nil, nil
	}
	return p.NewAPIKey(ctx, u.ID, "created with the user")
}

// UpdateUser stores u, already checked. Its API key sets, and the bots
// that log in as it, stay.
func (p *Provisioner) UpdateUser(ctx context.Context, u *botrelay.User) error {
	return p.o.Store.UpdateUser(ctx, u)
}

// DeleteUser deletes the user with its API key sets; ECONFLICT while a bot
// logs in as it.
func (p *Provisioner) DeleteUser(ctx context.Context, id botrelay.UserID) error {
	return p.o.Store.DeleteUser(ctx, id)
}
