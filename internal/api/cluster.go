package api

import (
	"context"
	"net/http"

	"github.com/botrelay/botrelay/internal/cluster"
)

// ClusterStatus reads the state of the cluster (internal/cluster.Node).
type ClusterStatus interface {
	Status(ctx context.Context) (*cluster.Status, error)
}

// clusterStatus answers GET /api/v1/cluster: the nodes, the bots each
// runs, and which node routes the hub. A single node answers
// {"enabled": false, "router": null, "nodes": []}.
func (a *API) clusterStatus(w http.ResponseWriter, r *http.Request) {
	if a.o.Cluster == nil {
		writeJSON(w, http.StatusOK, &cluster.Status{Nodes: []cluster.NodeStatus{}})
		return
	}
	st, err := a.o.Cluster.Status(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
