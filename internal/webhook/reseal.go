package webhook

import (
	"context"
	"fmt"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/sealed"
)

// Reseal re-seals the secrets of the account's webhook subscriptions (the
// current one and a rotation's previous one) from oldBox to newBox, for
// botrelay rotate-master-key. A subscription whose secret already opens
// with newBox is counted in already and left alone, so an interrupted run
// can be repeated. A secret that opens with neither stops it.
func Reseal(ctx context.Context, store botrelay.Store, account botrelay.AccountID, oldBox, newBox sealed.Sealer) (resealed, already int, err error) {
	hooks, err := store.Webhooks(ctx, account)
	if err != nil {
		return 0, 0, fmt.Errorf("list webhooks: %w", err)
	}
	ad := secretAD(account)
	move := func(w *botrelay.Webhook, s string) (string, bool, error) {
		if s == "" {
			return "", false, nil
		}
		if _, err := newBox.OpenString(s, ad); err == nil {
			return s, false, nil
		}
		plain, err := oldBox.OpenString(s, ad)
		if err != nil {
			return "", false, fmt.Errorf("webhook %d: its secret opens with neither the current nor the new master key", w.ID)
		}
		out, err := newBox.SealString(plain, ad)
		return out, true, err
	}
	for _, w := range hooks {
		cur, moved, err := move(w, w.SealedSecret)
		if err != nil {
			return resealed, already, err
		}
		old, movedOld, err := move(w, w.SealedOldSecret)
		if err != nil {
			return resealed, already, err
		}
		if !moved && !movedOld {
			already++
			continue
		}
		w.SealedSecret, w.SealedOldSecret = cur, old
		if err := store.UpdateWebhook(ctx, w); err != nil {
			return resealed, already, fmt.Errorf("webhook %d: store: %w", w.ID, err)
		}
		resealed++
	}
	return resealed, already, nil
}
