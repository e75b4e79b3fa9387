package relay

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// Every function given to the pool runs, many at once when they block, and
// once the work is over the pool's goroutines end: an idle relay keeps no
// goroutine for the conversations it served.
func TestPoolRunsEverythingAndEndsWhenIdle(t *testing.T) {
	defer func(d time.Duration) { poolIdle = d }(poolIdle)
	poolIdle = 50 * time.Millisecond
	p := goPool{runs: make(chan func())}
	before := runtime.NumGoroutine()
	const n = 100
	release := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	for range n {
		p.run(func() {
			defer done.Done()
			started.Done()
			<-release
		})
	}
	waitGroup(t, &started, "every function started while the others block")
	close(release)
	waitGroup(t, &done, "every function finished")
	// A second round runs too, on the goroutines left waiting or new ones.
	done.Add(n)
	for range n {
		p.run(done.Done)
	}
	waitGroup(t, &done, "the second round finished")
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 10 s after the work ended, %d before it", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting until %s", what)
	}
}
