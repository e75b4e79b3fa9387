package cluster

import (
	"hash/fnv"
	"sort"

	"github.com/botrelay/botrelay"
)

// assign places bots on nodes: each bot goes to the node that scores
// highest for it (rendezvous hashing, so most bots stay put when a node
// comes or goes) among the nodes that have room: each node runs
// floor(bots/nodes) bots, and bots%nodes of them one more. Every node computes the same answer from the same bots
// and live nodes; leases settle the moments when their views differ.
func assign(bots []botrelay.BotID, nodes []string) map[botrelay.BotID]string {
	out := make(map[botrelay.BotID]string, len(bots))
	if len(nodes) == 0 {
		return out
	}
	sorted := append([]botrelay.BotID(nil), bots...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	// Every node gets base bots, and extra of them one more.
	base, extra := len(sorted)/len(nodes), len(sorted)%len(nodes)
	count := make(map[string]int, len(nodes))
	bigger := 0 // nodes that have base+1
	for _, b := range sorted {
		best, bestScore := "", uint64(0)
		for _, n := range nodes {
			if c := count[n]; c > base || (c == base && bigger >= extra) {
				continue
			}
			if s := score(b, n); best == "" || s > bestScore || (s == bestScore && n < best) {
				best, bestScore = n, s
			}
		}
		out[b] = best
		if count[best]++; count[best] == base+1 {
			bigger++
		}
	}
	return out
}

func score(b botrelay.BotID, node string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(b))
	h.Write([]byte{0})
	h.Write([]byte(node))
	return h.Sum64()
}
