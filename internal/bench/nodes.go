package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// masterKeyFile keeps the master key the nodes of a cluster run share, in
// the first node's data folder, so a kept run can be started again.
const masterKeyFile = "bench-master-key"

// clusterNode makes s the i-th node of a cluster run (1-based): its node
// id, its advertised address and, on the first, the master key every node
// shares.
func (s *server) clusterNode(i int) error {
	s.id = fmt.Sprintf("n%d", i)
	s.ready = "/readyz"
	s.extra = append(slices.Clone(s.extra), "--node-id", s.id, "--advertise", s.base)
	if i != 1 {
		return nil
	}
	key, err := keptSecret(filepath.Join(s.data, masterKeyFile), func() string { return randHex(32) })
	if err != nil {
		return err
	}
	s.env = append(s.env, "BOTRELAY_MASTER_KEY="+key)
	return nil
}

// keptSecret reads a secret from path, or makes one and keeps it there.
func keptSecret(path string, mk func() string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	v := mk()
	return v, os.WriteFile(path, []byte(v+"\n"), 0o600)
}

// startPeers starts nodes 2..o.Nodes of a cluster run, one after the
// other (each waits until its /readyz answers 200), on data folders of
// their own inside the first node's.
func (s *server) startPeers(ctx context.Context) error {
	for i := 2; i <= s.o.Nodes; i++ {
		p := &server{o: s.o, env: s.env, metrics: s.metrics, data: filepath.Join(s.data, fmt.Sprintf("node%d", i))}
		if err := os.MkdirAll(p.data, 0o700); err != nil {
			return err
		}
		var err error
		if p.addr, err = freeAddr(); err != nil {
			return err
		}
		if p.pprof, err = freeAddr(); err != nil {
			return err
		}
		p.base = "http://" + p.addr
		p.extra = slices.Clone(s.extra[:slices.Index(s.extra, "--node-id")])
		if err := p.clusterNode(i); err != nil {
			return err
		}
		s.o.logf("starting node %s on %s, data folder %s", p.id, p.addr, p.data)
		s.peers = append(s.peers, p)
		if _, err := p.start(ctx); err != nil {
			return fmt.Errorf("node %s: %w", p.id, err)
		}
	}
	return nil
}

// all is every node of the run, the first one first.
func (s *server) all() []*server { return append([]*server{s}, s.peers...) }

// stopAll stops the nodes, the last started first.
func (s *server) stopAll() {
	nodes := s.all()
	for i := len(nodes) - 1; i >= 0; i-- {
		if n := nodes[i]; n.child != nil {
			n.child.stop(30 * time.Second)
			n.child = nil
		}
	}
}

// sumStats is the CPU and resident memory of every node together.
func (s *server) sumStats() (procSample, error) {
	var sum procSample
	for _, n := range s.all() {
		if n.child == nil {
			continue
		}
		p, err := sampleProc(n.child.pid())
		if err != nil {
			return sum, err
		}
		sum.At, sum.CPU, sum.RSS, sum.Peak = p.At, sum.CPU+p.CPU, sum.RSS+p.RSS, sum.Peak+p.Peak
	}
	return sum, nil
}

// bases are the nodes' URLs, the first node's first.
func (s *server) bases() []string {
	var out []string
	for _, n := range s.all() {
		out = append(out, n.base)
	}
	return out
}

type clusterStatus struct {
	Router *struct {
		Node string `json:"node"`
	} `json:"router"`
	Nodes []struct {
		ID    string `json:"id"`
		Alive bool   `json:"alive"`
		Bots  []struct {
			ID string `json:"id"`
		} `json:"bots"`
	} `json:"nodes"`
}

// waitSpread waits until the cluster has placed the bench's bots (the only
// started ones: see stopOthers) on every node, each running at least its
// share rounded down, and some node routes; it records the placement.
// After the deadline it goes on with the placement as it is (reported),
// since the load still runs.
func (s *server) waitSpread(ctx context.Context, a *api, ids []string) error {
	share := s.o.Bots / s.o.Nodes
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st clusterStatus
		if err := a.do(ctx, "GET", "/api/v1/cluster", nil, &st); err != nil {
			return fmt.Errorf("cluster status: %w", err)
		}
		s.bots, s.router = map[string]int{}, ""
		if st.Router != nil {
			s.router = st.Router.Node
		}
		for _, n := range st.Nodes {
			for _, b := range n.Bots {
				if n.Alive && slices.Contains(ids, b.ID) {
					s.bots[n.ID]++
				}
			}
		}
		spread := s.router != ""
		for _, n := range s.all() {
			spread = spread && s.bots[n.id] >= share
		}
		if spread {
			break
		}
		if time.Now().After(deadline) {
			s.o.logf("the cluster did not spread the bots within 30s; running with them as placed")
			break
		}
		sleepCtx(ctx, 100*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	s.o.logf("placement: %v; router %s", s.bots, s.router)
	return a.waitOnline(ctx, ids, 60*time.Second)
}

// windowSample is what the bench reads from the nodes and the database at
// one end of the measured window.
type windowSample struct {
	cpu     []time.Duration
	rss     []int64
	commits []float64 // the store's committed write transactions, per node (/metrics)
	writes  []float64 // the writes they held
	pg      int64     // pg_stat_database.xact_commit
	pgErr   error
}

func (s *server) sampleWindow(ctx context.Context) windowSample {
	var w windowSample
	for _, n := range s.all() {
		p, _ := sampleProc(n.child.pid())
		w.cpu, w.rss = append(w.cpu, p.CPU), append(w.rss, p.RSS)
		m, _ := scrape(ctx, s.metrics, n.base)
		w.commits = append(w.commits, m["botrelay_store_commit_writes_count"])
		w.writes = append(w.writes, m["botrelay_store_commit_writes_sum"])
	}
	if s.pg != nil {
		w.pg, w.pgErr = s.pg.commits(ctx)
	}
	return w
}

// windowFigures fills p's per-node and database figures from the samples
// at the start (a) and the end (b) of the window.
func (s *server) windowFigures(p *Phase, a, b windowSample) {
	if p.inWindow <= 0 || len(a.cpu) != len(b.cpu) {
		return
	}
	msgs := float64(p.inWindow)
	db := &DatabaseFigures{Kind: "sqlite"}
	nodes := s.all()
	for i, n := range nodes {
		f := NodeFigures{ID: n.id, Router: n.id != "" && n.id == s.router, Bots: s.bots[n.id],
			Consumers: s.o.Consumers / len(nodes), CPUSeconds: (b.cpu[i] - a.cpu[i]).Seconds(), RSSBytes: b.rss[i],
			StoreCommits: int64(b.commits[i] - a.commits[i]), StoreWrites: int64(b.writes[i] - a.writes[i])}
		if i < s.o.Consumers%len(nodes) {
			f.Consumers++
		}
		if n.id == "" {
			f.ID, f.Bots = "single", s.o.Bots
		}
		f.CPUPerMessageMicros = f.CPUSeconds * 1e6 / msgs
		db.StoreCommits += f.StoreCommits
		db.StoreWrites += f.StoreWrites
		p.Nodes = append(p.Nodes, f)
	}
	db.StoreCommitsPerMessage = float64(db.StoreCommits) / msgs
	db.StoreWritesPerMessage = float64(db.StoreWrites) / msgs
	db.Commits, db.CommitsPerMessage = db.StoreCommits, db.StoreCommitsPerMessage
	if s.pg != nil {
		db.Kind = "postgresql"
		db.Commits, db.CommitsPerMessage = 0, 0
		if a.pgErr == nil && b.pgErr == nil {
			db.Commits = b.pg - a.pg
			db.CommitsPerMessage = float64(db.Commits) / msgs
		}
	}
	p.Database = db
}
