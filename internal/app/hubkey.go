package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/botrelay/botrelay"
)

// hubKeyName names the hub's signing key in the store (botrelay.HubStore).
const hubKeyName = "hub-signing-key"

// errForeignHubKey is the one line a node whose master key differs from the
// database's gets.
var errForeignHubKey = errors.New("the database's hub signing key is sealed with another master key: every botrelay on one database " +
	"needs the same master key (the same BOTRELAY_MASTER_KEY, or a copy of the first node's master.key); see docs/operations.md")

// hubSigningKey returns the key that signs consumer tokens and file links.
// It lives in the store, sealed with the master key, so that every node on
// one database signs and checks with the same key. The first start stores
// the key derived from the master key, the one earlier versions used, so
// that an upgrade keeps consumers' tokens valid; a node with another master
// key cannot open it and refuses to start.
func (m *Main) hubSigningKey(ctx context.Context, master []byte) ([]byte, error) {
	sealed, err := m.store.HubKey(ctx, hubKeyName)
	if botrelay.ErrorCode(err) == botrelay.ENOTFOUND {
		fresh := base64.StdEncoding.EncodeToString(deriveKey(master, "hub-consumer-tokens"))
		s, err := m.box.SealString(fresh, hubKeyName)
		if err != nil {
			return nil, fmt.Errorf("seal the hub signing key: %w", err)
		}
		if sealed, err = m.store.PutHubKeyOnce(ctx, hubKeyName, s); err != nil {
			return nil, fmt.Errorf("store the hub signing key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read the hub signing key: %w", err)
	}
	plain, err := m.box.OpenString(sealed, hubKeyName)
	if err != nil {
		return nil, errForeignHubKey
	}
	key, err := base64.StdEncoding.DecodeString(plain)
	if err != nil || len(key) < 32 {
		return nil, errors.New("the database's hub signing key is damaged; delete the hub_keys row named " + hubKeyName +
			" to make a new one (consumer tokens and file links signed with the old one stop working)")
	}
	return key, nil
}
