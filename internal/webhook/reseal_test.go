package webhook

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/secretbox"
	"github.com/botrelay/botrelay/sqlstore"
)

// TestReseal: rotate-master-key moves both secrets of a subscription in a
// rotation's overlap to the new key; a second run finds nothing to do; a
// key that opens nothing stops it.
func TestReseal(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	st, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: filepath.Join(t.TempDir(), "db"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Bootstrap(ctx, &botrelay.Bootstrap{Account: &botrelay.Account{ID: "1000", Name: "A"},
		Profiles: botrelay.BuiltInProfiles(), Admin: &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true}}); err != nil {
		t.Fatal(err)
	}
	key := func(b byte) *secretbox.Box {
		k := make([]byte, 32)
		k[0] = b
		box, _ := secretbox.New(k)
		return box
	}
	oldBox, newBox := key(1), key(2)
	svc := New(Options{Store: st, Box: oldBox, Logger: quiet})
	first := NewSecret()
	w := &botrelay.Webhook{AccountID: "1000", URL: "https://hooks.example.com", Enabled: true}
	if w.SealedSecret, err = svc.Seal("1000", first); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	second, err := svc.Rotate(w, time.Hour)
	if err != nil || st.UpdateWebhook(ctx, w) != nil {
		t.Fatal(err)
	}
	if n, already, err := Reseal(ctx, st, "1000", oldBox, newBox); err != nil || n != 1 || already != 0 {
		t.Fatalf("Reseal = %d, %d, %v", n, already, err)
	}
	if n, already, err := Reseal(ctx, st, "1000", oldBox, newBox); err != nil || n != 0 || already != 1 {
		t.Fatalf("second Reseal = %d, %d, %v", n, already, err)
	}
	got, err := st.Webhook(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := New(Options{Store: st, Box: newBox, Logger: quiet}).secrets(got, time.Now())
	if err != nil || !slices.Equal(secrets, []string{second, first}) {
		t.Fatalf("secrets under the new key = %v, %v", secrets, err)
	}
	if _, _, err := Reseal(ctx, st, "1000", key(3), key(4)); err == nil {
		t.Fatal("Reseal with unrelated keys succeeded")
	}
}
