package hub

import (
	"sync"
	"testing"
	"time"
)

// TestLanes: work of one key runs in submission order; different keys run
// at once (a job of key a waits for a job of key b submitted after it).
func TestLanes(t *testing.T) {
	l := newLanes()
	var mu sync.Mutex
	got := map[string][]int{}
	bRan := make(chan struct{})
	l.run("a", func() {
		select {
		case <-bRan:
		case <-time.After(10 * time.Second):
			t.Error("key b did not run while key a was busy")
		}
	})
	for i := range 50 {
		for _, k := range []string{"a", "b", "c"} {
			l.run(k, func() {
				mu.Lock()
				got[k] = append(got[k], i)
				mu.Unlock()
			})
		}
	}
	l.run("b", func() { close(bRan) })
	l.wait()
	for _, k := range []string{"a", "b", "c"} {
		if len(got[k]) != 50 {
			t.Fatalf("key %s ran %d jobs, want 50", k, len(got[k]))
		}
		for i, v := range got[k] {
			if v != i {
				t.Fatalf("key %s ran job %d in place %d", k, v, i)
			}
		}
	}
}
