package limits

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pool bounds the memory that password hashes use at once. Each hash takes
// the argon2 memory of its parameters (in KiB) from a budget; a hash that
// does not fit waits its turn, first come first served, for at most a given
// time. One hash larger than the whole budget runs alone.
type pool struct {
	budget  int64 // KiB
	mu      sync.Mutex
	used    int64
	waiters []*waiter
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when the memory is granted
}

func newPool(budgetKiB int64) *pool {
	return &pool{budget: max(budgetKiB, 1)}
}

// acquire takes n KiB, waiting at most wait (or until ctx ends). It reports
// whether it got them; the caller then calls release(n).
func (p *pool) acquire(ctx context.Context, n int64, wait time.Duration) bool {
	n = min(n, p.budget)
	p.mu.Lock()
	if len(p.waiters) == 0 && p.used+n <= p.budget {
		p.used += n
		p.mu.Unlock()
		return true
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-w.ready:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-w.ready: // granted while we gave up: give it back
		p.used -= n
		p.grant()
		return false
	default:
	}
	for i, o := range p.waiters {
		if o == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			break
		}
	}
	p.grant() // a large waiter at the head may have blocked smaller ones
	return false
}

// release returns n KiB taken by acquire.
func (p *pool) release(n int64) {
	n = min(n, p.budget)
	p.mu.Lock()
	p.used -= n
	p.grant()
	p.mu.Unlock()
}

// grant hands memory to waiters in order while they fit. Caller holds mu.
func (p *pool) grant() {
	for len(p.waiters) > 0 {
		w := p.waiters[0]
		if p.used+w.n > p.budget {
			return
		}
		p.used += w.n
		p.waiters = p.waiters[1:]
		close(w.ready)
	}
}

// AutoHashMemory is the hash memory budget, in KiB, that a zero
// LoginConfig.HashMemoryKiB selects for hashes of perHashKiB each: room for
// one hash per CPU but one (so a login flood leaves a CPU to everything
// else), but no more than 1/16 of the memory available to the process (the
// cgroup limit when there is one, else the machine's memory) and no more
// than 64 MiB, and always room for at least one hash.
func AutoHashMemory(perHashKiB int64) int64 {
	budget := int64(runtime.GOMAXPROCS(0)-1) * perHashKiB
	budget = min(budget, 64<<10)
	if total := availableMemoryKiB(); total > 0 {
		budget = min(budget, total/16)
	}
	return max(budget, perHashKiB)
}

// availableMemoryKiB is the memory limit of the process's cgroup (v2), or
// the machine's total memory, or 0 when neither can be read.
func availableMemoryKiB() int64 {
	var total int64
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					total, _ = strconv.ParseInt(f[0], 10, 64)
				}
				break
			}
		}
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			if kib := n >> 10; total == 0 || kib < total {
				total = kib
			}
		}
	}
	return total
}
