package function

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// The memory guard (see the package doc for what it guarantees): one
// watchdog goroutine per process, running only while calls run.

const (
	watchInterval = 2 * time.Millisecond
	// minGCInterval spaces the collections the watchdog forces.
	minGCInterval = 50 * time.Millisecond
	heapMetric    = "/memory/classes/heap/objects:bytes"
	liveMetric    = "/gc/heap/live:bytes"
)

// guarded is one running call under the watchdog.
type guarded struct {
	vm      *goja.Runtime
	base    uint64 // live heap bytes when the call started (as of the last GC)
	limit   uint64
	tripped atomic.Bool
}

type memWatch struct {
	mu      sync.Mutex
	calls   map[*guarded]struct{}
	running bool
	lastGC  time.Time
}

var watchdog = &memWatch{calls: map[*guarded]struct{}{}}

// heapBytes reads the bytes of heap objects, live or not yet swept. Reading
// runtime/metrics does not stop the world.
func heapBytes() uint64 {
	return readMetric(heapMetric)
}

// baseBytes is a call's starting level: the live heap the last collection
// found, so that garbage present at the start does not loosen the limit; the
// heap objects before any collection ran.
func baseBytes() uint64 {
	if live := readMetric(liveMetric); live > 0 {
		return live
	}
	return heapBytes()
}

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	return s[0].Value.Uint64()
}

func (w *memWatch) add(vm *goja.Runtime, limit uint64) *guarded {
	g := &guarded{vm: vm, base: baseBytes(), limit: limit}
	w.mu.Lock()
	w.calls[g] = struct{}{}
	if !w.running {
		w.running = true
		go w.loop()
	}
	w.mu.Unlock()
	return g
}

func (w *memWatch) remove(g *guarded) {
	w.mu.Lock()
	delete(w.calls, g)
	w.mu.Unlock()
}

// over reports whether heap exceeds some call's start level plus its
// allowance; with trip set it interrupts those calls. The heap is the whole
// process's, so while n calls run together their growth is one sum: each
// call's allowance is its limit times n, so that n well-behaved calls (and
// the rest of the process under load) do not stop one another; a runaway
// call is still stopped, once it has grown by the allowance. w.mu is held.
func (w *memWatch) over(heap uint64, trip bool) bool {
	found := false
	n := uint64(max(1, len(w.calls)))
	for g := range w.calls {
		if heap > g.base && heap-g.base > g.limit*n {
			found = true
			if trip && !g.tripped.Swap(true) {
				g.vm.Interrupt(stopMemory)
			}
		}
	}
	return found
}

func (w *memWatch) loop() {
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	for range tick.C {
		w.mu.Lock()
		if len(w.calls) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		suspect := w.over(heapBytes(), false)
		w.mu.Unlock()
		if !suspect || time.Since(w.lastGC) < minGCInterval {
			continue
		}
		// The sample counts garbage too: collect, then judge the live heap.
		runtime.GC()
		w.lastGC = time.Now()
		live := heapBytes()
		w.mu.Lock()
		w.over(live, true)
		w.mu.Unlock()
	}
}
