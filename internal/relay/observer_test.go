package relay_test

import (
	"sync"
	"time"

	"github.com/botrelay/botrelay"
)

// countingObserver counts what a relay's Observer is told, by bot.
type countingObserver struct {
	mu        sync.Mutex
	turns     map[botrelay.BotID]int
	handBacks map[string]int // "<bot> <why>" → conversations
	fallback  map[string]int // "<bot> ok|error" → turns
}

func newCountingObserver() *countingObserver {
	return &countingObserver{turns: map[botrelay.BotID]int{}, handBacks: map[string]int{}, fallback: map[string]int{}}
}

func (o *countingObserver) VendorCall(b *botrelay.Bot, _ time.Duration, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.turns[b.ID]++
}

func (o *countingObserver) Escalated(*botrelay.Bot, string) {}

func (o *countingObserver) HandedBack(b *botrelay.Bot, why string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.handBacks[string(b.ID)+" "+why] += n
}

func (o *countingObserver) FallbackTurn(b *botrelay.Bot, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	result := "ok"
	if err != nil {
		result = "error"
	}
	o.fallback[string(b.ID)+" "+result]++
}

func (o *countingObserver) snapshot() (turns map[botrelay.BotID]int, handBacks, fallback map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	turns, handBacks, fallback = map[botrelay.BotID]int{}, map[string]int{}, map[string]int{}
	for k, v := range o.turns {
		turns[k] = v
	}
	for k, v := range o.handBacks {
		handBacks[k] = v
	}
	for k, v := range o.fallback {
		fallback[k] = v
	}
	return turns, handBacks, fallback
}
