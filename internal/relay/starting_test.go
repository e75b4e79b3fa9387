package relay_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// connectCounter wraps a bot's platform session and counts the sessions
// between their start (Run) and their first ONLINE report, holding that
// report back a little so that sessions started together overlap.
type connectCounter struct {
	botrelay.PlatformAdapter
	c *connecting
}

type connecting struct {
	mu       sync.Mutex
	now, max int
	online   int
}

func (p connectCounter) Run(ctx context.Context, in botrelay.Inbound) error {
	p.c.mu.Lock()
	p.c.now++
	p.c.max = max(p.c.max, p.c.now)
	p.c.mu.Unlock()
	return p.PlatformAdapter.Run(ctx, &firstOnline{Inbound: in, c: p.c})
}

type firstOnline struct {
	botrelay.Inbound
	c    *connecting
	once sync.Once
}

func (f *firstOnline) PlatformState(err error) {
	if err == nil {
		f.once.Do(func() {
			time.Sleep(150 * time.Millisecond)
			f.c.mu.Lock()
			f.c.now--
			f.c.online++
			f.c.mu.Unlock()
		})
	}
	f.Inbound.PlatformState(err)
}

// TestBotsTakeTurnsToConnect: twenty bots of the embedded hub started
// together connect eight at a time (a node restarted with hundreds of
// bots had every one log in and take its conversation listing at once, and
// none made it within its timeouts); every one of them ends up ONLINE.
// Bots on a LivePerson account do not take turns: they load LivePerson,
// not the node, and one that cannot reach it must not hold up the others.
func TestBotsTakeTurnsToConnect(t *testing.T) {
	embedded := connectAll(t, nil)
	if embedded > 8 || embedded < 2 {
		t.Fatalf("embedded hub: at most %d bots were connecting at once, want 2 to 8", embedded)
	}
	account := connectAll(t, func(b *botrelay.Bot) {
		b.Settings.Platform = botrelay.PlatformSettings{Account: string(testrig.Account), CSDSDomain: "lp.example.com"}
	})
	if account <= 8 {
		t.Fatalf("LivePerson account: at most %d bots were connecting at once, want more than 8 (no turns)", account)
	}
	t.Logf("at most %d (embedded) and %d (LivePerson account) bots connecting at once", embedded, account)
}

// connectAll starts twenty bots together, waits until every one is ONLINE
// and returns how many were connecting at once at most.
func connectAll(t *testing.T, edit func(*botrelay.Bot)) int {
	t.Helper()
	c := &connecting{}
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{&recorder{id: "rec_a"}},
		WrapPlatform: func(p botrelay.PlatformAdapter) botrelay.PlatformAdapter { return connectCounter{p, c} }})
	var bots []*botrelay.Bot
	for i := range 20 {
		bots = append(bots, r.AddBot(fmt.Sprintf("b%02d", i), testrig.BotOptions{Vendor: "rec_a", Edit: edit}))
	}
	for _, b := range bots {
		if err := r.Relay.Start(context.Background(), b.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range bots {
		r.WaitState(b, botrelay.BotOnline, 30*time.Second)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.online != 20 {
		t.Fatalf("%d sessions reported ONLINE, want 20", c.online)
	}
	return c.max
}
