package cluster

import (
	"fmt"
	"testing"

	"github.com/botrelay/botrelay"
)

func TestAssignIsAlwaysEven(t *testing.T) {
	for n := 1; n <= 40; n++ {
		var bots []botrelay.BotID
		for i := range n {
			bots = append(bots, botrelay.BotID(fmt.Sprintf("%x-%d", n*7919, i)))
		}
		for k := 1; k <= 5; k++ {
			var nodes []string
			for j := range k {
				nodes = append(nodes, fmt.Sprintf("node-%d", j+1))
			}
			count := map[string]int{}
			for _, node := range assign(bots, nodes) {
				count[node]++
			}
			for _, node := range nodes {
				if c := count[node]; c < n/k || c > (n+k-1)/k {
					t.Fatalf("%d bots on %d nodes: %s got %d (%v)", n, k, node, c, count)
				}
			}
		}
	}
}

func TestAssignSpreadsEvenlyAndIsDeterministic(t *testing.T) {
	var bots []botrelay.BotID
	for i := range 10 {
		bots = append(bots, botrelay.BotID(fmt.Sprintf("bot-%02d", i)))
	}
	nodes := []string{"n1", "n2", "n3"}
	a := assign(bots, nodes)
	count := map[string]int{}
	for _, b := range bots {
		count[a[b]]++
	}
	for _, n := range nodes {
		if count[n] < 3 || count[n] > 4 {
			t.Fatalf("node %s got %d bots, want 3 or 4: %v", n, count[n], count)
		}
	}
	// Another order of the same inputs gives the same placement.
	rev := []botrelay.BotID{}
	for i := len(bots) - 1; i >= 0; i-- {
		rev = append(rev, bots[i])
	}
	b := assign(rev, nodes)
	for _, id := range bots {
		if a[id] != b[id] {
			t.Fatalf("bot %s placed on %s and then %s", id, a[id], b[id])
		}
	}
	// One node left: every bot on the other two, at most 5 each.
	c := assign(bots, []string{"n1", "n3"})
	count = map[string]int{}
	for _, id := range bots {
		count[c[id]]++
	}
	if count["n1"] != 5 || count["n3"] != 5 {
		t.Fatalf("two nodes: %v", count)
	}
	if len(assign(bots, nil)) != 0 {
		t.Fatal("no nodes must place nothing")
	}
}
