package relay

import (
	"context"
	"errors"

	"github.com/botrelay/botrelay"
)

// publishState derives the state from the platform session and the vendor.
func (rn *runner) publishState() {
	rn.mu.Lock()
	pErr, down, vendorErr := rn.platformErr, rn.vendorDown, rn.vendorErr
	rn.mu.Unlock()
	switch {
	case pErr != nil:
		rn.setState(botrelay.BotServiceInterruption, codeServiceInterruption, pErr.Error())
	case down:
		msg := "the vendor health check failed"
		if vendorErr != nil {
			msg = vendorErr.Error()
		}
		rn.setState(botrelay.BotVendorInterruption, classify(vendorErr, codeTestConnection), msg)
	default:
		rn.setState(botrelay.BotOnline, "", "online")
	}
}

// healthResult records the outcome of the vendor's health check (F4): a
// failure is Vendor Interruption; a pass ends it. A pass that ends an
// interruption live failures began leaves the bot one failure short of the
// threshold (half open): the next failed turn puts it back at once, a
// successful one clears the count.
func (rn *runner) healthResult(err error) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if err != nil {
		rn.vendorDown, rn.vendorErr, rn.downByLive = true, err, false
		return
	}
	if rn.vendorDown && rn.downByLive {
		rn.liveFailures = rn.bot.Settings.Limits.VendorFailures() - 1
	}
	rn.vendorDown, rn.vendorErr, rn.downByLive = false, nil, false
}

// vendorResult counts the live turns that failed on the vendor's side —
// unavailable, timed out, credentials refused (F4: "repeated vendor
// failures"). After Limits.VendorFailures() in a row the bot goes to Vendor
// Interruption; a successful turn resets the count and ends an
// interruption that live failures began. Replies the vendor gave but the
// bot cannot use are not the vendor's outage and count neither way.
func (rn *runner) vendorResult(err error) {
	vendorSide := errors.Is(err, botrelay.ErrVendorUnavailable) || errors.Is(err, botrelay.ErrVendorAuth)
	if err != nil && !vendorSide {
		return
	}
	rn.mu.Lock()
	changed := false
	if vendorSide {
		rn.liveFailures++
		if rn.liveFailures >= rn.bot.Settings.Limits.VendorFailures() && !rn.vendorDown {
			rn.vendorDown, rn.vendorErr, rn.downByLive, changed = true, err, true, true
		}
	} else {
		rn.liveFailures = 0
		if rn.vendorDown && rn.downByLive {
			rn.vendorDown, rn.vendorErr, rn.downByLive, changed = false, nil, false, true
		}
	}
	ch := rn.changed
	rn.mu.Unlock()
	if changed && ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (rn *runner) isVendorDown() bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.vendorDown
}

func (rn *runner) lastPlatformErr() error {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.platformErr == nil {
		return errors.New("no answer")
	}
	return rn.platformErr
}

// checkVendor runs the vendor's health check, if it has one, within the
// vendor timeout.
func (rn *runner) checkVendor(ctx context.Context) error {
	hc, ok := rn.vendor.(botrelay.HealthChecker)
	if !ok {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, rn.bot.Settings.Limits.VendorTimeout())
	defer cancel()
	return hc.CheckHealth(cctx)
}
