package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/sealed"
)

// Vendor fallback (docs/standins.md): a bot may name a secondary vendor in
// settings.routing.fallback — another bot's vendor configuration (botId),
// or a vendor id with its settings (vendor, settings; the secret ones
// sealed with the bot's secrets). While the bot's own vendor is in Vendor
// Interruption (its health check fails, or its circuit opened after
// vendorFailureThreshold failed turns) every turn goes to the fallback
// instead of escalating; a turn whose call to the own vendor fails on the
// vendor's side (unavailable, timed out, credentials refused) is answered
// by the fallback too. When the own vendor recovers (its health check
// passes) the next turns go back to it. Only when the fallback fails as
// well does the conversation escalate.
//
// Each vendor keeps its own state of a conversation: the own vendor's in
// the conversation's state, the fallback's apart (StandInStore); neither
// ever sees the other's. The bot's hooks are written for its own vendor's
// requests and do not run around the fallback.

// hasFallback reports whether the bot has a usable fallback vendor.
func (rn *runner) hasFallback() bool { return rn.fallback != nil }

// buildFallback makes the fallback vendor's client at the bot's start. A
// fallback that cannot be built is logged and left out: the bot runs,
// escalating as it would without one.
func (rn *runner) buildFallback(ctx context.Context, sec *sealed.Secrets) {
	rn.fallback = nil
	fb := rn.bot.Settings.Routing.Fallback
	if fb == nil || (fb.BotID == "" && fb.Vendor == "") {
		return
	}
	v, secrets, err := rn.openFallback(ctx, fb, sec)
	if err != nil {
		rn.log.Error("fallback vendor left out", "err", Redact(err.Error(), append(rn.secrets, secrets...)))
		return
	}
	rn.fallback = v
	rn.secrets = append(rn.secrets, secrets...)
}

// openFallback builds the fallback's client and returns its secret values.
func (rn *runner) openFallback(ctx context.Context, fb *botrelay.Fallback, sec *sealed.Secrets) (*vendorClient, []string, error) {
	vendorID, settings, secrets := fb.Vendor, fb.Settings, sec.Fallback
	values := sec.Values()
	if fb.BotID != "" {
		other, err := rn.o.Store.Bot(ctx, fb.BotID)
		if err == nil && (other.AccountID != rn.bot.AccountID || other.ID == rn.bot.ID) {
			err = botrelay.Errorf(botrelay.EINVALID, "fallback bot %s is not another bot of the account", fb.BotID)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("fallback bot: %w", err)
		}
		osec, err := sealed.Open(rn.o.Box, other)
		if err != nil {
			return nil, nil, fmt.Errorf("fallback bot %s: %w", other.ID, err)
		}
		conn, err := rn.o.Registry.Vendor(other.Vendor)
		if err != nil {
			return nil, nil, err
		}
		if err := sealed.CheckEndpoint(osec, conn.Info(), other); err != nil {
			return nil, nil, err
		}
		vendorID, settings, secrets, values = other.Vendor, other.Settings.Vendor, osec.Vendor, osec.Values()
	}
	conn, err := rn.o.Registry.Vendor(vendorID)
	if err != nil {
		return nil, nil, err
	}
	if fb.BotID == "" && len(secrets) > 0 {
		ep, err := botrelay.EndpointValues(conn.Info(), settings)
		if err != nil {
			return nil, nil, err
		}
		if ch := botrelay.ChangedEndpoint(sec.FallbackEndpoint, ep); len(ch) > 0 {
			return nil, nil, botrelay.Errorf(botrelay.EINVALID, "the fallback's secrets were stored for other endpoint settings; update the bot with them again")
		}
	}
	cfg, err := mergeVendorConfig(settings, secrets)
	if err != nil {
		return nil, nil, err
	}
	b := rn.bot
	vb, err := conn.NewBot(cfg, botrelay.BotEnv{BotID: b.ID, AccountID: b.AccountID, Logger: rn.o.Logger,
		HTTPClient: rn.o.HTTPClient, Now: rn.o.Now, Signer: rn.o.Signer,
		EscalationSkill: b.Settings.ErrorHandling.EscalationSkill})
	if err != nil {
		return nil, values, err
	}
	code := conn.Info().Errors.Timeout
	if code == "" {
		code = sendQueryCode(vendorID)
	}
	return &vendorClient{bot: vb, retriesInternally: conn.Info().RetriesInternally, timeoutCode: code}, values, nil
}

// converseOrFallback runs a turn on the bot's own vendor, or on its
// fallback while the own vendor is in Vendor Interruption or when the own
// vendor's call failed on the vendor's side.
func (w *worker) converseOrFallback(ctx context.Context, turn *botrelay.Turn) (*botrelay.Reply, error) {
	rn := w.rn
	if rn.fallback == nil || !rn.isVendorDown() {
		reply, err := w.converse(ctx, turn)
		if ctx.Err() == nil {
			rn.vendorResult(err)
		}
		if err == nil || rn.fallback == nil || ctx.Err() != nil || !vendorSide(err) {
			return reply, err
		}
		w.log.Warn("the vendor failed; the fallback answers the turn", "conversation_id", string(w.ref.ID),
			"err", Redact(err.Error(), rn.secrets))
	}
	return w.converseFallback(ctx, turn)
}

// vendorSide reports whether err is the vendor's outage (F4).
func vendorSide(err error) bool {
	return errors.Is(err, botrelay.ErrVendorUnavailable) || errors.Is(err, botrelay.ErrVendorAuth)
}

// converseFallback runs the turn on the fallback with the fallback's own
// state of the conversation, and stores the state it answers apart.
func (w *worker) converseFallback(ctx context.Context, turn *botrelay.Turn) (*botrelay.Reply, error) {
	rn := w.rn
	state, err := w.store.FallbackState(ctx, rn.bot.ID, w.ref.ID)
	if err != nil {
		return nil, err
	}
	t := *turn
	t.VendorState = state
	reply, err := w.converseVia(ctx, *rn.fallback, &t)
	if so := rn.standIns(); so != nil && ctx.Err() == nil {
		so.FallbackTurn(rn.bot, err)
	}
	if err != nil {
		return nil, err
	}
	if reply.VendorState != nil && !bytes.Equal(reply.VendorState, state) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		defer cancel()
		if err := w.store.SaveFallbackState(sctx, rn.bot.ID, w.ref.ID, reply.VendorState); err != nil {
			return nil, err
		}
	}
	reply.VendorState = nil // the own vendor's state stays as it is
	return reply, nil
}

// endFallback ends the fallback's side of a conversation the bot let go,
// if the fallback ever answered in it: the vendor's conversation where it
// has one, and the stored state.
func (w *worker) endFallback(ctx context.Context) {
	rn := w.rn
	if rn.fallback == nil {
		return
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rn.bot.Settings.Limits.VendorTimeout())
	defer cancel()
	state, err := w.store.FallbackState(ectx, rn.bot.ID, w.ref.ID)
	if err != nil || state == nil {
		return
	}
	if e, ok := rn.fallback.bot.(botrelay.Ender); ok {
		if err := e.EndConversation(ectx, w.ref, state); err != nil {
			w.log.Debug("end fallback vendor conversation", "err", err)
		}
	}
	if err := w.store.SaveFallbackState(ectx, rn.bot.ID, w.ref.ID, nil); err != nil {
		w.log.Warn("drop the fallback's conversation state", "conversation_id", string(w.ref.ID), "err", err)
	}
}
