package provision

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/sealed"
)

// vendorBot builds the vendor client for the settings and secrets, which
// checks them without I/O. The caller closes it.
func (p *Provisioner) vendorBot(id botrelay.BotID, conn botrelay.VendorConnector, plain json.RawMessage, secrets map[string]any, escalation string) (botrelay.VendorBot, error) {
	cfg, err := vendorJSON(plain, secrets)
	if err != nil {
		return nil, err
	}
	vb, err := conn.NewBot(cfg, botrelay.BotEnv{BotID: id, AccountID: p.o.Account, Logger: p.o.Logger,
		HTTPClient: p.o.HTTPClient, Now: p.o.Now, Signer: p.o.Signer, EscalationSkill: escalation})
	if err != nil {
		var e *botrelay.Error
		if errors.As(err, &e) {
			return nil, botrelay.Errorf(e.Code, "settings.vendor: %s", e.Message)
		}
		return nil, fmt.Errorf("vendor %s: new bot: %w", conn.Info().ID, err)
	}
	return vb, nil
}

// VendorBot builds the vendor client of a stored bot from its settings and
// sealed secrets, for the connection test and the conversation tester. It
// refuses secrets sealed for other endpoint settings (sealed.CheckEndpoint).
// The caller closes it with CloseVendorBot.
func (p *Provisioner) VendorBot(b *botrelay.Bot) (botrelay.VendorBot, error) {
	conn, err := p.o.Registry.Vendor(b.Vendor)
	if err != nil {
		return nil, err
	}
	sec, err := sealed.Open(p.o.Box, b)
	if err != nil {
		return nil, err
	}
	if err := sealed.CheckEndpoint(sec, conn.Info(), b); err != nil {
		return nil, err
	}
	plain := b.Settings.Vendor
	if len(plain) == 0 {
		plain = json.RawMessage("{}")
	}
	return p.vendorBot(b.ID, conn, plain, sec.Vendor, b.Settings.ErrorHandling.EscalationSkill)
}

// CloseVendorBot closes a vendor client that has a Close method.
func CloseVendorBot(vb botrelay.VendorBot) {
	if c, ok := vb.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}

// vendorJSON merges plain settings and secrets into the vendor's JSON
// configuration.
func vendorJSON(plain json.RawMessage, secrets map[string]any) (json.RawMessage, error) {
	m := map[string]any{}
	if err := json.Unmarshal(plain, &m); err != nil {
		return nil, botrelay.Errorf(botrelay.EINVALID, "settings.vendor must be a JSON object")
	}
	maps.Copy(m, secrets)
	return json.Marshal(m)
}
