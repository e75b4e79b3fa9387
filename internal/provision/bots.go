package provision

import (
	"context"

	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/sealed"
	"github.com/botrelay/botrelay/internal/uuid"
)

// CreateBot checks b and stores it as a new bot of the account: b's own
// rules, its vendor settings (through the vendor's NewBot), survey and
// hook support, and its bot user. b.Settings.Vendor holds the vendor
// settings with the secret ones (VendorInfo.Secrets) mixed in; CreateBot
// keeps the others there and seals the secrets, with a fresh API key set
// of the bot user, into b.Secrets. It sets b.ID and b.AccountID.
func (p *Provisioner) CreateBot(ctx context.Context, b *botrelay.Bot) error {
	b.ID, b.AccountID = newBotID(), p.o.Account
	conn, err := p.o.Registry.Vendor(b.Vendor)
	if err != nil {
		return err
	}
	plain, secrets, _, err := splitVendor(conn.Info(), b.Settings.Vendor)
	if err == nil {
		b.Settings.Vendor = plain
		err = p.checkBot(b, secrets)
	}
	if err == nil {
		err = p.checkBotUser(ctx, b.UserID)
	}
	var fbSecrets map[string]any
	if err == nil {
		fbSecrets, err = p.planFallback(ctx, b, nil, nil)
	}
	if err != nil {
		return err
	}
	appKey, err := p.sealNewKey(ctx, b, secrets, "bot "+string(b.ID), true)
	if err != nil {
		return err
	}
	if err := p.sealFallback(b, fbSecrets); err != nil {
		p.dropAPIKey(ctx, appKey)
		return err
	}
	if err := p.o.Store.CreateBot(ctx, b); err != nil {
		p.dropAPIKey(ctx, appKey)
		return err
	}
	return nil
}

// AddBot stores b as its caller made it, with a fresh API key set of its
// bot user (described as keyDesc) sealed with vendorSecrets. It checks
// nothing and does not bind the secrets to the endpoint settings: it is
// for the demo seed and test rigs, whose bots are not taken from a
// request. An empty b.ID gets a random one.
func (p *Provisioner) AddBot(ctx context.Context, b *botrelay.Bot, vendorSecrets map[string]any, keyDesc string) error {
	if b.ID == "" {
		b.ID = newBotID()
	}
	appKey, err := p.sealNewKey(ctx, b, vendorSecrets, keyDesc, false)
	if err != nil {
		return err
	}
	if err := p.o.Store.CreateBot(ctx, b); err != nil {
		p.dropAPIKey(ctx, appKey)
		return err
	}
	return nil
}

// DeleteBot deletes b and the API key set made for it. The caller stops
// the bot first.
func (p *Provisioner) DeleteBot(ctx context.Context, b *botrelay.Bot) error {
	sec, err := sealed.Open(p.o.Box, b)
	if err != nil {
		return err
	}
	if err := p.o.Store.DeleteBot(ctx, b.ID); err != nil {
		return err
	}
	p.dropAPIKey(ctx, sec.APIKey.AppKey)
	return nil
}

// splitVendor splits vendor settings into the non-secret JSON object and the
// secret keys (VendorInfo.Secrets). Secret keys set to null are returned in
// removed.
func splitVendor(info botrelay.VendorInfo, raw json.RawMessage) (plain json.RawMessage, secrets map[string]any, removed []string, err error) {
	all := map[string]any{}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &all); err != nil {
			return nil, nil, nil, botrelay.Errorf(botrelay.EINVALID, "settings.vendor must be a JSON object")
		}
	}
	secrets = map[string]any{}
	for _, k := range info.Secrets {
		v, ok := all[k]
		if !ok {
			continue
		}
		delete(all, k)
		if v == nil {
			removed = append(removed, k)
		} else {
			secrets[k] = v
		}
	}
	plain, err = json.Marshal(all)
	return plain, secrets, removed, err
}

// checkBot validates b with its vendor secrets: the bot's own rules, the
// vendor's settings (through NewBot), survey support and hook support.
func (p *Provisioner) checkBot(b *botrelay.Bot, secrets map[string]any) error {
	if err := b.Validate(); err != nil {
		return err
	}
	conn, err := p.o.Registry.Vendor(b.Vendor)
	if err != nil {
		return err
	}
	if b.Type == botrelay.BotSurvey && !conn.Info().Survey {
		return botrelay.Errorf(botrelay.EINVALID, "vendor %s cannot run survey bots", b.Vendor)
	}
	if b.Type != botrelay.BotSurvey && conn.Info().SurveyOnly {
		return botrelay.Errorf(botrelay.EINVALID, "vendor %s runs survey bots only: create the bot with type %s", b.Vendor, botrelay.BotSurvey)
	}
	vb, err := p.vendorBot(b.ID, conn, b.Settings.Vendor, secrets, b.Settings.ErrorHandling.EscalationSkill)
	if err != nil {
		return err
	}
	defer CloseVendorBot(vb)
	if h := b.Settings.Hooks; h.PreHook != "" || h.PostHook != "" {
		if _, ok := vb.(botrelay.HookableBot); !ok {
			return botrelay.Errorf(botrelay.EINVALID, "settings.hooks: vendor %s does not support pre- and post-hooks", b.Vendor)
		}
	}
	return nil
}

// checkBotUser refuses a user id that is not a bot user of the account.
func (p *Provisioner) checkBotUser(ctx context.Context, id botrelay.UserID) error {
	u, err := p.o.Store.User(ctx, id)
	if errors.Is(err, botrelay.ErrNotFound) || (err == nil && u.AccountID != p.o.Account) {
		return botrelay.Errorf(botrelay.EINVALID, "userId %d does not exist", id)
	} else if err != nil {
		return err
	}
	if u.Type != botrelay.UserBot {
		return botrelay.Errorf(botrelay.EINVALID, "userId %d is not a bot user", id)
	}
	return nil
}

// newBotID returns a new bot id: a random (version 4) UUID.
func newBotID() botrelay.BotID { return botrelay.BotID(uuid.New()) }

// Reseal re-seals the secrets of every bot of account that oldBox opens
// under newBox (rotate-master-key). Bots newBox opens already are left
// alone, so a run after an interruption finishes the job. It stops at the
// first bot neither box opens.
func Reseal(ctx context.Context, store botrelay.Store, account botrelay.AccountID, oldBox, newBox sealed.Sealer) (resealed, already int, err error) {
	bots, err := store.Bots(ctx, account)
	if err != nil {
		return 0, 0, fmt.Errorf("list bots: %w", err)
	}
	for _, b := range bots {
		if b.Secrets == "" {
			continue
		}
		if _, err := sealed.Open(newBox, b); err == nil {
			already++
			continue
		}
		sec, err := sealed.Open(oldBox, b)
		if err != nil {
			return resealed, already, fmt.Errorf("bot %s (%s): its secrets open with neither the current nor the new master key; nothing was replaced", b.ID, b.Name)
		}
		if b.Secrets, err = sealed.Seal(newBox, b, sec); err != nil {
			return resealed, already, fmt.Errorf("bot %s: seal: %v", b.ID, err)
		}
		if err := store.UpdateBot(ctx, b); err != nil {
			return resealed, already, fmt.Errorf("bot %s: store: %w", b.ID, err)
		}
		resealed++
	}
	return resealed, already, nil
}

// SecretsSet names the secrets b has set, never their values: its vendor's
// secret settings, sorted, then "botUserApiKey" when it has a key set.
func (p *Provisioner) SecretsSet(b *botrelay.Bot) ([]string, error) {
	sec, err := sealed.Open(p.o.Box, b)
	if err != nil {
		return nil, err
	}
	set := slices.Sorted(maps.Keys(sec.Vendor))
	if sec.APIKey.AppKey != "" {
		set = append(set, "botUserApiKey")
	}
	return set, nil
}
