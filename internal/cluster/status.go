package cluster

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// Status is what GET /api/v1/cluster and `botrelay cluster status` show.
type Status struct {
	// Enabled is false on a single node (SQLite or no --node-id).
	Enabled bool `json:"enabled"`
	// Self is the id of the node that answered.
	Self string `json:"self,omitempty"`
	// Router is the node that routes the hub, when one does.
	Router *RouterStatus `json:"router"`
	Nodes  []NodeStatus  `json:"nodes"`
}

// RouterStatus names the router.
type RouterStatus struct {
	Node  string    `json:"node"`
	Epoch int64     `json:"epoch"`
	Since time.Time `json:"since"`
}

// NodeStatus is one node and the bots it runs.
type NodeStatus struct {
	ID          string      `json:"id"`
	Address     string      `json:"address"`
	Alive       bool        `json:"alive"`
	StartedAt   time.Time   `json:"startedAt"`
	HeartbeatAt time.Time   `json:"heartbeatAt"`
	Router      bool        `json:"router"`
	Bots        []BotStatus `json:"bots"`
}

// BotStatus is a bot placed on a node.
type BotStatus struct {
	ID    botrelay.BotID `json:"id"`
	Name  string         `json:"name"`
	Epoch int64          `json:"epoch"`
}

// Status reads the cluster's state from the database now.
func (n *Node) Status(ctx context.Context) (*Status, error) {
	nodes, err := n.o.Store.ClusterNodes(ctx)
	if err != nil {
		return nil, err
	}
	leases, err := n.o.Store.ClusterLeases(ctx)
	if err != nil {
		return nil, err
	}
	bots, err := n.o.Store.Bots(ctx, n.o.Account)
	if err != nil {
		return nil, err
	}
	names := map[botrelay.BotID]string{}
	for _, b := range bots {
		names[b.ID] = b.Name
	}
	st := &Status{Enabled: true, Self: n.o.NodeID, Nodes: []NodeStatus{}}
	index := map[string]int{}
	for _, nd := range nodes {
		index[nd.ID+"/"+nd.Incarnation] = len(st.Nodes)
		st.Nodes = append(st.Nodes, NodeStatus{ID: nd.ID, Address: nd.Address, Alive: nd.Alive,
			StartedAt: nd.StartedAt, HeartbeatAt: nd.HeartbeatAt, Bots: []BotStatus{}})
	}
	for _, l := range leases {
		i, ok := index[l.Node+"/"+l.Incarnation]
		if !l.Held || !ok || !st.Nodes[i].Alive && l.Name != RouterLease {
			continue
		}
		if l.Name == RouterLease {
			st.Router = &RouterStatus{Node: l.Node, Epoch: l.Epoch, Since: l.AcquiredAt}
			st.Nodes[i].Router = true
			continue
		}
		if id, ok := strings.CutPrefix(l.Name, "bot:"); ok {
			bid := botrelay.BotID(id)
			st.Nodes[i].Bots = append(st.Nodes[i].Bots, BotStatus{ID: bid, Name: names[bid], Epoch: l.Epoch})
		}
	}
	for i := range st.Nodes {
		b := st.Nodes[i].Bots
		sort.Slice(b, func(x, y int) bool { return b[x].Name < b[y].Name || b[x].Name == b[y].Name && b[x].ID < b[y].ID })
	}
	return st, nil
}
