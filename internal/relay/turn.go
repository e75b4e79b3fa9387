package relay

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/botrelay/botrelay"
)

// vendorClient is a vendor the relay calls: the bot's own, or its fallback
// (fallback.go), with what the relay needs to know of it.
type vendorClient struct {
	bot               botrelay.VendorBot
	retriesInternally bool
	timeoutCode       string
	// own: the bot's own vendor, around which the bot's hooks run (they
	// are written for its requests) and whose turns the Observer counts;
	// the fallback's are counted apart (StandInObserver).
	own bool
}

// primary is the bot's own vendor.
func (rn *runner) primary() vendorClient {
	return vendorClient{bot: rn.vendor, retriesInternally: rn.retriesInternally, timeoutCode: rn.timeoutCode, own: true}
}

// converse calls the bot's own vendor (see converseVia).
func (w *worker) converse(ctx context.Context, turn *botrelay.Turn) (*botrelay.Reply, error) {
	return w.converseVia(ctx, w.rn.primary(), turn)
}

// converseVia calls v, retrying unavailability within the timeout (F42),
// through the pre- and post-hooks when the bot has them (F36).
func (w *worker) converseVia(ctx context.Context, v vendorClient, turn *botrelay.Turn) (reply *botrelay.Reply, err error) {
	if obs := w.rn.o.Observer; obs != nil && v.own {
		start := time.Now()
		defer func() { obs.VendorCall(w.rn.bot, time.Since(start), err) }()
	}
	timeout := w.rn.bot.Settings.Limits.VendorTimeout()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w.lastReq, w.lastResp = nil, nil
	// A vendor that says its bot is typing shows the consumer the typing
	// indicator until the call ends.
	var typing atomic.Bool
	turn.ShowTyping = func() {
		if typing.CompareAndSwap(false, true) {
			if err := w.platform.SetTyping(ctx, w.ref, true); err != nil {
				w.log.Debug("typing indicator", "err", err)
			}
		}
	}
	defer func() {
		turn.ShowTyping = nil
		if typing.Load() {
			_ = w.platform.SetTyping(ctx, w.ref, false)
		}
	}()
	call := v.bot.Converse
	hooks := w.rn.bot.Settings.Hooks
	// With any hook, a hookable vendor is called step by step, so the
	// error-hook gets the request and the response too (F36).
	if hb, ok := v.bot.(botrelay.HookableBot); ok && v.own && hooks.Any() {
		call = func(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) { return w.hooked(ctx, hb, t) }
	}
	backoff := vendorRetryBackoff
	for attempt := 1; ; attempt++ {
		reply, err := call(cctx, turn)
		if err == nil {
			if reply == nil {
				reply = &botrelay.Reply{}
			}
			return reply, nil
		}
		if cctx.Err() != nil {
			return nil, botrelay.NewVendorError(botrelay.ErrVendorUnavailable, v.timeoutCode,
				"the vendor did not answer within %v", timeout)
		}
		deadline, _ := cctx.Deadline()
		var ve *botrelay.VendorError
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || attempt >= 3 || v.retriesInternally ||
			time.Until(deadline) < backoff || (errors.As(err, &ve) && ve.RetryAfter > 0) {
			return nil, err
		}
		select {
		case <-time.After(backoff):
		case <-cctx.Done():
			return nil, err
		}
		backoff *= 2
	}
}

// hooked is one vendor call with hooks: build the request, let the
// pre-hook rewrite it, exchange it, let the post-hook rewrite the raw
// response, parse it (F15, F36).
func (w *worker) hooked(ctx context.Context, hb botrelay.HookableBot, t *botrelay.Turn) (*botrelay.Reply, error) {
	hooks := w.rn.bot.Settings.Hooks
	req, err := hb.BuildRequest(ctx, t)
	if err != nil {
		return nil, err
	}
	if hooks.PreHook != "" {
		if req, err = w.runHook(ctx, "pre-hook", hooks.PreHook, req); err != nil {
			return nil, err
		}
	}
	w.lastReq = req
	resp, state, err := hb.Exchange(ctx, t, req)
	if err != nil {
		return nil, err
	}
	w.lastResp = resp
	if hooks.PostHook != "" {
		if resp, err = w.runHook(ctx, "post-hook", hooks.PostHook, resp); err != nil {
			return nil, err
		}
	}
	reply, err := hb.ParseResponse(ctx, t, resp)
	if err != nil {
		return nil, err
	}
	if reply.VendorState == nil {
		reply.VendorState = state
	}
	return reply, nil
}

// runHook runs a hook with payload as input.payload and returns what it
// answered; a failure is aivendor.faas.failed-hook.
func (w *worker) runHook(ctx context.Context, name, code string, payload json.RawMessage) (json.RawMessage, error) {
	scripts := w.rn.o.Scripts
	if scripts == nil {
		return nil, botrelay.NewVendorError(botrelay.ErrUnsupported, codeFailedHook, "%s: this connector runs no functions", name)
	}
	input, _ := json.Marshal(map[string]any{"headers": []any{}, "payload": payload})
	out, err := scripts.RunScript(ctx, code, input)
	if err != nil {
		return nil, botrelay.NewVendorError(botrelay.ErrVendorBadReply, codeFailedHook, "%s: %v", name, err)
	}
	return out, nil
}

// errorHook runs the bot's error-hook, if any, after an error was logged
// (F31 step 1, F36); its answer is ignored and its failure only logged.
func (w *worker) errorHook(ctx context.Context, errorID, code string) {
	src := w.rn.bot.Settings.Hooks.ErrorHook
	if src == "" {
		return
	}
	payload := map[string]any{
		"error":  map[string]string{"errorId": errorID, "name": botrelay.ErrorCodePrefix + code},
		"vendor": w.rn.bot.Vendor,
	}
	if hb, ok := w.rn.vendor.(botrelay.HookableBot); ok {
		info := hb.HookInfo()
		payload["vendor"] = info.Vendor
		if w.lastReq != nil {
			payload[info.RequestKey] = w.lastReq
		}
		if w.lastResp != nil {
			payload[info.ResponseKey] = w.lastResp
		}
	}
	raw, _ := json.Marshal(payload)
	hctx, cancel := context.WithTimeout(ctx, functionTimeout)
	defer cancel()
	if _, err := w.runHook(hctx, "error-hook", src, raw); err != nil {
		w.logError(ctx, codeFailedHook, err.Error(), nil)
	}
}

// validate applies F16 and drops blank texts (F17).
func (w *worker) validate(r *botrelay.Reply) error {
	items := r.Items[:0:0]
	messages, delays := 0, 0
	for _, it := range r.Items {
		switch {
		case it.Message != nil:
			m := it.Message
			if strings.TrimSpace(m.Text) == "" && len(m.StructuredContent) == 0 {
				continue
			}
			if len(m.QuickReplies) > 0 && w.rn.bot.ConversationType == botrelay.Chat {
				return botrelay.NewVendorError(botrelay.ErrVendorBadReply, codeQuickRepliesNotSupported,
					"quick replies are not supported in chat conversations")
			}
			messages++
		case it.Delay != nil:
			delays++
		default:
			continue
		}
		items = append(items, it)
	}
	r.Items = items
	if messages == 0 && r.Action == nil && delays == 0 {
		if len(r.Skipped) > 0 {
			return botrelay.NewVendorError(botrelay.ErrVendorBadReply, codeNoMessagesUnsupportedAction,
				"the reply has no messages and only unsupported actions: %s", strings.Join(r.Skipped, ", "))
		}
		return botrelay.NewVendorError(botrelay.ErrVendorBadReply, codeMissingActionAndMessages,
			"the reply has neither messages nor an action")
	}
	return nil
}
