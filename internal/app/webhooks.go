package app

import (
	"context"

	"github.com/botrelay/botrelay/internal/webhook"
)

// newWebhooks makes the webhook service: the hub's and the relay's event
// sink and the delivery loop (docs/webhooks.md). Its Active hook is left at
// "always": a cluster ties it to the node that delivers.
func (m *Main) newWebhooks() *webhook.Service {
	o := webhook.Options{Store: m.store, Box: m.box, Logger: m.log.With("part", "webhooks"), Now: m.Now,
		AllowPrivateTargets: m.Config.Webhooks.AllowPrivateTargets, Active: m.onceAClusterNode}
	if m.WebhookOptions != nil {
		m.WebhookOptions(&o)
	}
	return webhook.New(o)
}

// runWebhooks starts the delivery loop; the returned function stops it and
// waits, so the store outlives it.
func (m *Main) runWebhooks(ctx context.Context) (stop func()) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.webhooks.Run(wctx); err != nil {
			m.log.Error("webhook delivery stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done }
}
