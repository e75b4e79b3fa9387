package provision

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/sealed"
)

// Edit is an update of a bot: its new name, bot user and settings. The
// vendor settings hold the secret ones mixed in, as on create: a secret
// key that is absent keeps its value and one set to null is removed, but
// an edit that changes an endpoint setting (VendorInfo.Endpoint) must give
// every stored secret again or remove it. Type, ConversationType and
// Vendor, when set, must be the bot's: they cannot change.
type Edit struct {
	Name             string
	Type             botrelay.BotType
	ConversationType botrelay.ConversationType
	Vendor           string
	// UserID 0 keeps the bot user.
	UserID   botrelay.UserID
	Settings botrelay.BotSettings
	// MayMovePlatform reports that the editor may change settings.platform:
	// that sends the bot's API key set to another platform, which is as
	// much as creating a bot (bot:create), not an edit.
	MayMovePlatform bool
}

// update is one bot edit in progress: the bot as stored and as edited,
// with its sealed secrets before and the vendor secrets after.
type update struct {
	old, upd *botrelay.Bot
	info     botrelay.VendorInfo
	sealed   *sealed.Secrets // as stored
	given    map[string]any  // the secret settings the edit gives
	removed  []string        // the secret settings the edit sets to null
	secrets  map[string]any  // the vendor secrets after the edit
}

// UpdateBot applies e to the stopped bot b (the caller checks that it is
// stopped, F48) and returns the bot as stored afterwards. A new bot user
// gets a fresh API key set, and the previous user's key for the bot is
// deleted.
func (p *Provisioner) UpdateBot(ctx context.Context, b *botrelay.Bot, e Edit) (*botrelay.Bot, error) {
	if err := checkFixedFields(b, e); err != nil {
		return nil, err
	}
	u, err := p.planUpdate(b, e)
	if err != nil {
		return nil, err
	}
	if err := u.checkSecretsFollow(); err != nil {
		return nil, err
	}
	if err := u.checkPlatformMove(e.MayMovePlatform); err != nil {
		return nil, err
	}
	if err := p.checkBot(u.upd, u.secrets); err != nil {
		return nil, err
	}
	fbSecrets, err := p.planFallback(ctx, u.upd, b.Settings.Routing.Fallback, u.sealed)
	if err != nil {
		return nil, err
	}
	newKey, err := p.reseal(ctx, u)
	if err == nil {
		err = p.sealFallback(u.upd, fbSecrets)
	}
	if err != nil {
		p.dropAPIKey(ctx, newKey)
		return nil, err
	}
	if err := p.o.Store.UpdateBot(ctx, u.upd); err != nil {
		p.dropAPIKey(ctx, newKey)
		return nil, err
	}
	if newKey != "" {
		p.dropAPIKey(ctx, u.sealed.APIKey.AppKey) // the previous user's key for this bot
	}
	return p.o.Store.Bot(ctx, b.ID)
}

// checkFixedFields refuses an edit of type, conversationType or vendor.
func checkFixedFields(b *botrelay.Bot, e Edit) error {
	if (e.Type != "" && e.Type != b.Type) || (e.ConversationType != "" && e.ConversationType != b.ConversationType) ||
		(e.Vendor != "" && e.Vendor != b.Vendor) {
		return botrelay.Errorf(botrelay.EINVALID, "type, conversationType and vendor cannot change; create another bot")
	}
	return nil
}

// planUpdate opens b's secrets and works out the edited bot and its
// vendor secrets.
func (p *Provisioner) planUpdate(b *botrelay.Bot, e Edit) (*update, error) {
	conn, err := p.o.Registry.Vendor(b.Vendor)
	if err != nil {
		return nil, err
	}
	u := &update{old: b, info: conn.Info()}
	if u.sealed, err = sealed.Open(p.o.Box, b); err != nil {
		return nil, err
	}
	var plain []byte
	if plain, u.given, u.removed, err = splitVendor(u.info, e.Settings.Vendor); err != nil {
		return nil, err
	}
	u.secrets = maps.Clone(u.sealed.Vendor)
	if u.secrets == nil {
		u.secrets = map[string]any{}
	}
	maps.Copy(u.secrets, u.given)
	for _, k := range u.removed {
		delete(u.secrets, k)
	}
	upd := *b
	upd.Name, upd.Settings = e.Name, e.Settings
	upd.Settings.Vendor = plain
	if e.UserID != 0 {
		upd.UserID = e.UserID
	}
	u.upd = &upd
	return u, nil
}

// checkSecretsFollow refuses an edit that changes where the vendor calls
// go (VendorInfo.Endpoint) while keeping stored vendor secrets the edit
// does not give again: the secrets would otherwise be sent to a place
// their owner never chose (issue 14). Giving each stored secret again, or
// removing it with null, is the editor's statement that it may go there.
func (u *update) checkSecretsFollow() error {
	stored := u.sealed.Vendor
	if len(stored) == 0 {
		return nil
	}
	changed, err := changedEndpoint(u.info, u.old, u.upd)
	if err != nil || len(changed) == 0 {
		return err
	}
	var kept []string
	for k := range stored {
		if _, ok := u.given[k]; !ok && !slices.Contains(u.removed, k) {
			kept = append(kept, k)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	slices.Sort(kept)
	return botrelay.Errorf(botrelay.EINVALID, "settings.vendor: changing %s changes where the vendor calls go; "+
		"send the secret settings %s again (or set them to null to remove them)",
		strings.Join(changed, ", "), strings.Join(kept, ", "))
}

// changedEndpoint names the endpoint settings that differ between old and
// upd.
func changedEndpoint(info botrelay.VendorInfo, old, upd *botrelay.Bot) ([]string, error) {
	before, err := botrelay.EndpointValues(info, old.Settings.Vendor)
	if err != nil {
		return nil, err
	}
	after, err := botrelay.EndpointValues(info, upd.Settings.Vendor)
	if err != nil {
		return nil, err
	}
	return botrelay.ChangedEndpoint(before, after), nil
}

// checkPlatformMove refuses to move the bot to another platform unless the
// editor may (Edit.MayMovePlatform): the bot logs in there with its API
// key set.
func (u *update) checkPlatformMove(may bool) error {
	if u.upd.Settings.Platform != u.old.Settings.Platform && !may {
		return botrelay.Errorf(botrelay.EFORBIDDEN, "changing settings.platform sends the bot's API key set to "+
			"another platform, which needs the %s permission", botrelay.PermBotCreate)
	}
	return nil
}

// reseal seals the edited secrets into u.upd: with a fresh API key set
// when the bot user changes (returning its app key), else with the bot's
// key set, bound again to the edited endpoint settings and platform.
func (p *Provisioner) reseal(ctx context.Context, u *update) (newKey string, err error) {
	if u.upd.UserID != u.old.UserID {
		if err := p.checkBotUser(ctx, u.upd.UserID); err != nil {
			return "", err
		}
		return p.sealNewKey(ctx, u.upd, u.secrets, "bot "+string(u.upd.ID), true)
	}
	sec := *u.sealed
	sec.Vendor = u.secrets
	if err := sealed.BindEndpoint(&sec, u.info, u.upd); err != nil {
		return "", err
	}
	u.upd.Secrets, err = sealed.Seal(p.o.Box, u.upd, &sec)
	return "", err
}
