package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/testrig"
)

// BenchmarkRelayTurn is one consumer message through the whole product in
// one process, one at a time: consumer websocket → hub (stored) → the bot's
// websocket → relay → vendor → reply published → hub (stored) → consumer.
// ns/op is the round trip; it is bound by the store's durable commits.
func BenchmarkRelayTurn(b *testing.B) {
	for _, v := range []struct {
		name     string
		vendor   string
		settings any
	}{
		{"noop", NoopVendorID, map[string]any{}},
		{"function", "function", map[string]any{"code": EchoFunctionCode}},
	} {
		b.Run(v.name, func(b *testing.B) {
			rig := testrig.NewRig(b, testrig.RigOptions{Vendors: []botrelay.VendorConnector{NoopConnector{}, function.Connector{}}})
			bot := rig.AddBot("bench", testrig.BotOptions{Vendor: v.vendor, Settings: v.settings})
			rig.Start(bot, botrelay.BotOnline)
			ctx := context.Background()
			c, err := openConsumer(ctx, http.DefaultClient, target{kind: "botrelay", base: rig.URL, account: string(testrig.Account),
				skill: botrelay.SkillNameBot}, time.Now(), 15*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			defer c.c.Close()
			c.slots = make(chan struct{}, 1)
			say := func(k int) {
				c.slots <- struct{}{} // waits until the previous message is answered
				c.mu.Lock()
				c.sentAt = append(c.sentAt, int64(time.Since(c.epoch)))
				c.recvAt = append(c.recvAt, 0)
				c.mu.Unlock()
				if err := c.c.send(ctx, "ms.PublishEvent", map[string]any{"dialogId": c.convID, "event": json.RawMessage(
					`{"type":"ContentEvent","contentType":"text/plain","message":"` + textPrefix + strconv.Itoa(k) + `"}`)}, nil); err != nil {
					b.Fatal(err)
				}
			}
			say(0) // the first turn builds the worker
			k := 1
			b.ReportAllocs() // every allocation of the turn: client, hub, relay, store
			for b.Loop() {
				say(k)
				k++
			}
			c.slots <- struct{}{}
			b.StopTimer()
			if n := c.odd.Load() + c.nacked.Load(); n != 0 {
				b.Fatalf("%d unexpected answers", n)
			}
		})
	}
}
