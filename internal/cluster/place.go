package cluster

import (
	"hash/fnv"
	"sort"

	"github.com/botrelay/botrelay"
)

// assign places bots on nodes: each bot goes to the node that scores
// highest for it (rendezvous hashing, so most bots stay put when a node
// comes or goes) among the nodes that have fewer than their share,
// ceil(bots/nodes). Every node computes the same answer from the same bots
// and live nodes; leases settle the moments when their views differ.
func assign(bots []botrelay.BotID, nodes []string) map[botrelay.BotID]string {
	out := make(map[botrelay.BotID]string, len(bots))
	if len(nodes) == 0 {
		return out
	}
	sorted := append([]botrelay.BotID(nil), bots...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	share := (len(sorted) + len(nodes) - 1) / len(nodes)
	count := make(map[string]int, len(nodes))
	for _, b := range sorted {
		best, bestScore := "", uint64(0)
		for _, n := range nodes {
			if count[n] >= share {
				continue
			}
			if s := score(b, n); best == "" || s > bestScore || (s == bestScore && n < best) {
				best, bestScore = n, s
			}
		}
		out[b] = best
		count[best]++
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
