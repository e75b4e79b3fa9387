package provision

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/sealed"
)

// Routing settings (docs/standins.md). settings.routing.fallback names
// another bot (botId) or a vendor with its settings (vendor, settings); in
// requests those settings carry the fallback vendor's secret ones mixed
// in, as settings.vendor does. They are split out and sealed with the
// bot's secrets (sealed.Secrets.Fallback), bound to the fallback's endpoint
// settings; an edit follows settings.vendor's rules: an absent secret keeps
// its value, null removes it, and changing the fallback's vendor or an
// endpoint setting needs every stored secret given again.

// planFallback checks b's routing settings and splits the fallback's
// secrets out of b.Settings.Routing.Fallback.Settings. stored is the
// bot's sealed secrets before an edit (nil on create); old its routing
// settings then. It returns the fallback secrets to seal.
func (p *Provisioner) planFallback(ctx context.Context, b *botrelay.Bot, old *botrelay.Fallback, stored *sealed.Secrets) (map[string]any, error) {
	rt := b.Settings.Routing
	if rt.Weight < 0 {
		return nil, botrelay.Errorf(botrelay.EINVALID, "settings.routing.weight must be 0 or more")
	}
	fb := rt.Fallback
	if fb == nil || (fb.BotID == "" && fb.Vendor == "") {
		b.Settings.Routing.Fallback = nil
		return nil, nil
	}
	if fb.BotID != "" {
		if fb.Vendor != "" || len(fb.Settings) > 0 {
			return nil, botrelay.Errorf(botrelay.EINVALID, "settings.routing.fallback: give botId or vendor with settings, not both")
		}
		return nil, p.checkFallbackBot(ctx, b, fb.BotID)
	}
	conn, err := p.o.Registry.Vendor(fb.Vendor)
	if err != nil {
		return nil, botrelay.Errorf(botrelay.EINVALID, "settings.routing.fallback.vendor: %q is not a vendor (botrelay vendors lists them)", fb.Vendor)
	}
	if conn.Info().SurveyOnly {
		return nil, botrelay.Errorf(botrelay.EINVALID, "settings.routing.fallback.vendor: %s runs survey bots only", fb.Vendor)
	}
	plain, given, removed, err := splitVendor(conn.Info(), fb.Settings)
	if err != nil {
		return nil, botrelay.Errorf(botrelay.EINVALID, "settings.routing.fallback.settings must be a JSON object")
	}
	secrets := map[string]any{}
	if stored != nil && old != nil && old.Vendor == fb.Vendor {
		maps.Copy(secrets, stored.Fallback)
		if err := fallbackSecretsFollow(conn.Info(), old, plain, stored, given, removed); err != nil {
			return nil, err
		}
	}
	maps.Copy(secrets, given)
	for _, k := range removed {
		delete(secrets, k)
	}
	fb.Settings = plain
	vb, err := p.vendorBot(b.ID, conn, plain, secrets, b.Settings.ErrorHandling.EscalationSkill)
	if err != nil {
		var e *botrelay.Error
		if errors.As(err, &e) {
			return nil, botrelay.Errorf(e.Code, "settings.routing.fallback: %s", strings.TrimPrefix(e.Message, "settings.vendor: "))
		}
		return nil, err
	}
	CloseVendorBot(vb)
	return secrets, nil
}

// checkFallbackBot refuses a fallback bot that is not another agent bot of
// the account.
func (p *Provisioner) checkFallbackBot(ctx context.Context, b *botrelay.Bot, id botrelay.BotID) error {
	other, err := p.o.Store.Bot(ctx, id)
	if errors.Is(err, botrelay.ErrNotFound) || (err == nil && (other.AccountID != p.o.Account || other.ID == b.ID)) {
		return botrelay.Errorf(botrelay.EINVALID, "settings.routing.fallback.botId: %q is not another bot of the account", id)
	} else if err != nil {
		return err
	}
	if other.Type != botrelay.BotAgent {
		return botrelay.Errorf(botrelay.EINVALID, "settings.routing.fallback.botId: bot %q is a survey bot", id)
	}
	return nil
}

// fallbackSecretsFollow refuses an edit that changes the fallback's
// endpoint settings while keeping stored secrets it does not give again.
func fallbackSecretsFollow(info botrelay.VendorInfo, old *botrelay.Fallback, plain []byte, stored *sealed.Secrets, given map[string]any, removed []string) error {
	before, err := botrelay.EndpointValues(info, old.Settings)
	if err != nil {
		return err
	}
	after, err := botrelay.EndpointValues(info, plain)
	if err != nil {
		return err
	}
	changed := botrelay.ChangedEndpoint(before, after)
	if len(changed) == 0 {
		return nil
	}
	var kept []string
	for k := range stored.Fallback {
		if _, ok := given[k]; !ok && !slices.Contains(removed, k) {
			kept = append(kept, k)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	slices.Sort(kept)
	return botrelay.Errorf(botrelay.EINVALID, "settings.routing.fallback.settings: changing %s changes where the fallback's calls go; "+
		"send the secret settings %s again (or set them to null to remove them)", strings.Join(changed, ", "), strings.Join(kept, ", "))
}

// sealFallback adds the fallback's secrets to b's sealed secrets, bound to
// the fallback's endpoint settings.
func (p *Provisioner) sealFallback(b *botrelay.Bot, secrets map[string]any) error {
	sec, err := sealed.Open(p.o.Box, b)
	if err != nil {
		return err
	}
	sec.Fallback, sec.FallbackEndpoint = nil, nil
	if fb := b.Settings.Routing.Fallback; fb != nil && fb.Vendor != "" && len(secrets) > 0 {
		conn, err := p.o.Registry.Vendor(fb.Vendor)
		if err != nil {
			return err
		}
		if sec.FallbackEndpoint, err = botrelay.EndpointValues(conn.Info(), fb.Settings); err != nil {
			return err
		}
		sec.Fallback = secrets
	}
	b.Secrets, err = sealed.Seal(p.o.Box, b, sec)
	return err
}
