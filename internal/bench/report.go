package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is what one bench run measured. Durations are in milliseconds,
// memory in bytes, CPU in seconds unless a field says otherwise.
type Report struct {
	Date    string  `json:"date"`
	Machine Machine `json:"machine"`
	Config  Config  `json:"config"`
	// Botrelay is the load through botrelay: hub, connector and the vendor.
	Botrelay *Phase `json:"botrelay,omitempty"`
	// Floor is the same load through the floor relay.
	Floor *Phase `json:"floor,omitempty"`
	// FloorRatio is Botrelay's messages per second over Floor's, when both
	// ran unbounded (at a fixed rate both just keep the rate).
	FloorRatio float64 `json:"floorRatio,omitempty"`
	// AddedLatency is Botrelay's latency minus the floor's under the same
	// load: what botrelay adds to the least a relay costs here.
	AddedLatency *Latency `json:"addedLatencyMs,omitempty"`
	// Idle is the cost of open conversations with no consumer connected.
	Idle *Idle `json:"idle,omitempty"`
	// Cloned is the node restarted with the idle conversations replicated
	// in its store (--idle-clone).
	Cloned *Cloned `json:"cloned,omitempty"`
	// Readiness is how long `serve` took to answer /healthz 200 on the run's
	// data folder, from the process start.
	Readiness *Readiness `json:"readiness,omitempty"`
	// Setup times the preparation: first start, bots, conversations.
	Setup Setup `json:"setup"`
	// Targets judges the run against the published targets (targets.go).
	Targets []Target `json:"targets,omitempty"`
	// Compare is the same load on SQLite, with --compare-sqlite.
	Compare *Comparison `json:"sqliteComparison,omitempty"`
}

// Machine describes where the bench ran.
type Machine struct {
	CPUs        int    `json:"cpus"`
	MemoryBytes int64  `json:"memoryBytes"`
	OS          string `json:"os"`
	GoVersion   string `json:"goVersion"`
	FileLimit   uint64 `json:"fileLimit"`
}

// Config is the run's configuration as the report records it.
type Config struct {
	Server            string  `json:"server"` // "started" or the URL of the targeted server
	Store             string  `json:"store"`
	Vendor            string  `json:"vendor"`
	Bots              int     `json:"bots"`
	Consumers         int     `json:"consumers"`
	IdleConversations int     `json:"idleConversations"`
	Rate              float64 `json:"rate"` // messages per second in all; 0 = unbounded
	Window            int     `json:"window"`
	WarmupSeconds     float64 `json:"warmupSeconds"`
	DurationSeconds   float64 `json:"durationSeconds"`
	MaxOpenPerBot     int     `json:"maxOpenPerBot"`
	// Nodes is how many botrelay nodes the bench started (cluster mode
	// when more than one).
	Nodes int `json:"nodes,omitempty"`
	// Schema is the PostgreSQL schema of a --database run.
	Schema string `json:"schema,omitempty"`
}

// Phase is one measured load.
type Phase struct {
	// Sent counts the messages sent in the measured window; Replied those
	// the consumer saw the bot answer (before the drain ended); Lost the
	// rest.
	Sent    int64 `json:"sent"`
	Replied int64 `json:"replied"`
	Lost    int64 `json:"lost"`
	// TotalSent and TotalReplied include the warm-up.
	TotalSent    int64 `json:"totalSent"`
	TotalReplied int64 `json:"totalReplied"`
	// MessagesPerSecond counts bot answers the consumers received inside the
	// window, divided by its length: consumer message → bot reply seen by
	// the consumer.
	MessagesPerSecond float64 `json:"messagesPerSecond"`
	// Latency is from the (intended) send to the reply seen, for messages
	// sent in the window.
	Latency Latency `json:"latencyMs"`
	// ServerCPUSeconds is the server process's user+system CPU in the
	// window; CPUPerMessageMicros divides it by the answers in the window.
	ServerCPUSeconds    float64 `json:"serverCpuSeconds"`
	CPUPerMessageMicros float64 `json:"cpuPerMessageMicros"`
	// ClientCPUSeconds is the bench's own CPU in the window (it shares the
	// machine).
	ClientCPUSeconds float64 `json:"clientCpuSeconds"`
	// ServerRSSBytes is the server's resident memory at the end of the
	// window; LiveRSSPerConversationBytes is the growth from opening the
	// live consumers (socket, subscriptions and conversation), per consumer.
	ServerRSSBytes              int64   `json:"serverRssBytes"`
	LiveRSSPerConversationBytes float64 `json:"liveRssPerConversationBytes"`
	// Rejected counts PublishEvent requests answered with an error; Odd
	// counts agent texts that answer none of the bench's messages (e.g. an
	// escalation notice).
	Rejected int64 `json:"rejected"`
	Odd      int64 `json:"odd"`
	// Duplicates counts answers a consumer received a second time;
	// Disconnected the consumers whose websocket the server closed during
	// the load (e.g. 4429, too slow to read).
	Duplicates   int64 `json:"duplicates"`
	Disconnected int64 `json:"disconnected"`
	// DisconnectedBy counts the disconnected consumers by why their
	// websocket closed (the close code and reason, or the error).
	DisconnectedBy map[string]int64 `json:"disconnectedBy,omitempty"`
	// Nodes are each started node's figures over the window, and
	// Database the commits behind the answers (servers the bench started).
	Nodes    []NodeFigures    `json:"nodes,omitempty"`
	Database *DatabaseFigures `json:"database,omitempty"`

	inWindow int64 // answers in the window
}

// NodeFigures are one node's costs over the measured window.
type NodeFigures struct {
	ID string `json:"id"` // the node id; "single" outside cluster mode
	// Router is whether the node held the router lease (it runs the hub).
	Router    bool `json:"router,omitempty"`
	Bots      int  `json:"bots"`
	Consumers int  `json:"consumers"` // consumers connected to it
	// CPUSeconds is the node process's user+system CPU in the window;
	// CPUPerMessageMicros divides it by every answer in the window (the
	// whole cluster's), so the nodes' figures add up to the cluster's.
	CPUSeconds          float64 `json:"cpuSeconds"`
	CPUPerMessageMicros float64 `json:"cpuPerMessageMicros"`
	RSSBytes            int64   `json:"rssBytes"`
	// StoreCommits counts the store's committed write transactions
	// (botrelay_store_commit_writes_count on /metrics), StoreWrites the
	// writes they held (a SQLite group commit holds several).
	StoreCommits int64 `json:"storeCommits"`
	StoreWrites  int64 `json:"storeWrites"`
}

// DatabaseFigures are the database commits behind the window's answers.
type DatabaseFigures struct {
	Kind string `json:"kind"` // sqlite or postgresql
	// Commits is, on PostgreSQL, the delta of pg_stat_database.xact_commit
	// for the run's database: every committed transaction, reads, leases
	// and heartbeats included; on SQLite, the store's write commits (reads
	// do not commit anything there).
	Commits           int64   `json:"commits"`
	CommitsPerMessage float64 `json:"commitsPerMessage"`
	// StoreCommits and StoreWrites add up the nodes' write transactions.
	StoreCommits           int64   `json:"storeCommits"`
	StoreCommitsPerMessage float64 `json:"storeCommitsPerMessage"`
	StoreWrites            int64   `json:"storeWrites"`
	StoreWritesPerMessage  float64 `json:"storeWritesPerMessage"`
}

// Latency percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Idle is the memory of conversations that stay open without a connected
// consumer. RSSBefore and RSSAfter are sampled after the server collected
// garbage and returned free memory to the system (what stays resident);
// the Raw ones just before that.
type Idle struct {
	Conversations            int     `json:"conversations"`
	RawRSSBeforeBytes        int64   `json:"rawRssBeforeBytes"`
	RawRSSAfterBytes         int64   `json:"rawRssAfterBytes"`
	RSSBeforeBytes           int64   `json:"rssBeforeBytes"`
	RSSAfterBytes            int64   `json:"rssAfterBytes"`
	RSSPerConversationBytes  float64 `json:"rssPerConversationBytes"`
	OpenedPerSecond          float64 `json:"openedPerSecond"`
	HeapBeforeBytes          int64   `json:"heapInuseBeforeBytes,omitempty"`
	HeapAfterBytes           int64   `json:"heapInuseAfterBytes,omitempty"`
	HeapPerConversationBytes float64 `json:"heapPerConversationBytes,omitempty"`
}

// Readiness is the time from starting `serve` on an existing data folder to
// the first /healthz 200.
type Readiness struct {
	OpenConversations int       `json:"openConversations"`
	RunsMs            []float64 `json:"runsMs"`
	MedianMs          float64   `json:"medianMs"`
	MaxMs             float64   `json:"maxMs"`
	// ResumeMs is, for the last run, how long until every bench bot was
	// ONLINE again.
	ResumeMs float64 `json:"resumeMs,omitempty"`
}

// Setup times the preparation.
type Setup struct {
	FirstStartMs        float64 `json:"firstStartMs,omitempty"`
	BotsOnlineMs        float64 `json:"botsOnlineMs,omitempty"`
	OpenConsumersMs     float64 `json:"openConsumersMs,omitempty"`
	ServerRSSBaseBytes  int64   `json:"serverRssBaseBytes,omitempty"`
	ServerRSSAfterBytes int64   `json:"serverRssAfterBytes,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func latency(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	pct := func(p float64) float64 {
		i := int(float64(len(ds))*p+0.5) - 1
		return ms(ds[min(max(i, 0), len(ds)-1)])
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{P50: pct(0.50), P95: pct(0.95), P99: pct(0.99), Max: ms(ds[len(ds)-1]), Mean: ms(sum / time.Duration(len(ds)))}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// WriteSummary writes the report for people.
func (r *Report) WriteSummary(w io.Writer) {
	var b strings.Builder
	c := r.Config
	rate := "unbounded"
	if c.Rate > 0 {
		rate = fmt.Sprintf("%.0f msg/s", c.Rate)
	}
	fmt.Fprintf(&b, "botrelay bench — %s — %d CPUs, %.1f GiB, %s\n", r.Date, r.Machine.CPUs, float64(r.Machine.MemoryBytes)/(1<<30), r.Machine.GoVersion)
	nodes := ""
	if c.Nodes > 1 {
		nodes = fmt.Sprintf(" over %d nodes", c.Nodes)
	}
	fmt.Fprintf(&b, "load: %d consumers, %d bot(s) (%s)%s, rate %s, window %d, %gs after %gs warm-up; store %s\n",
		c.Consumers, c.Bots, c.Vendor, nodes, rate, c.Window, c.DurationSeconds, c.WarmupSeconds, c.Store)
	phase := func(name string, p *Phase) {
		if p == nil {
			return
		}
		fmt.Fprintf(&b, "%-9s %8.0f msg/s  p50 %.2f  p95 %.2f  p99 %.2f  max %.2f ms  sent %d replied %d lost %d",
			name, p.MessagesPerSecond, p.Latency.P50, p.Latency.P95, p.Latency.P99, p.Latency.Max, p.Sent, p.Replied, p.Lost)
		if p.ServerCPUSeconds > 0 {
			fmt.Fprintf(&b, "  cpu %.0f µs/msg (server %.2fs, bench %.2fs)", p.CPUPerMessageMicros, p.ServerCPUSeconds, p.ClientCPUSeconds)
		}
		if p.Rejected+p.Odd+p.Duplicates+p.Disconnected > 0 {
			fmt.Fprintf(&b, "  rejected %d odd %d duplicates %d disconnected %d", p.Rejected, p.Odd, p.Duplicates, p.Disconnected)
			for why, n := range p.DisconnectedBy {
				fmt.Fprintf(&b, " (%d: %s)", n, why)
			}
		}
		b.WriteString("\n")
	}
	phase("botrelay", r.Botrelay)
	if p := r.Botrelay; p != nil {
		writeCosts(&b, p)
	}
	r.Compare.write(&b, phase)
	phase("floor", r.Floor)
	if r.FloorRatio > 0 {
		fmt.Fprintf(&b, "ratio     %.1f%% of the floor's throughput\n", r.FloorRatio*100)
	}
	if a := r.AddedLatency; a != nil {
		fmt.Fprintf(&b, "added    p50 %.2f  p95 %.2f  p99 %.2f ms over the floor\n", a.P50, a.P95, a.P99)
	}
	if p := r.Botrelay; p != nil && p.ServerRSSBytes > 0 {
		fmt.Fprintf(&b, "memory    server RSS %s at the end of the load; %.1f KiB per live consumer conversation\n",
			mib(p.ServerRSSBytes), p.LiveRSSPerConversationBytes/1024)
	}
	if i := r.Idle; i != nil {
		fmt.Fprintf(&b, "idle      %d open conversations (no consumer connected): RSS %s → %s after GC, %.1f KiB each (raw RSS %s → %s)",
			i.Conversations, mib(i.RSSBeforeBytes), mib(i.RSSAfterBytes), i.RSSPerConversationBytes/1024, mib(i.RawRSSBeforeBytes), mib(i.RawRSSAfterBytes))
		if i.HeapAfterBytes > 0 {
			fmt.Fprintf(&b, " (Go heap in use %.1f KiB each)", i.HeapPerConversationBytes/1024)
		}
		fmt.Fprintf(&b, "; opened %.0f/s\n", i.OpenedPerSecond)
	}
	writeCloned(&b, r.Cloned)
	if rd := r.Readiness; rd != nil {
		fmt.Fprintf(&b, "ready     serve on the existing data folder (%d open conversations): /healthz 200 after median %.0f ms, max %.0f ms",
			rd.OpenConversations, rd.MedianMs, rd.MaxMs)
		if rd.ResumeMs > 0 {
			fmt.Fprintf(&b, "; bots ONLINE after %.0f ms", rd.ResumeMs)
		}
		b.WriteString("\n")
	}
	if len(r.Targets) > 0 {
		writeTargets(&b, r.Targets)
	}
	io.WriteString(w, b.String())
}

// writeCosts writes each node's CPU per message and the database commits
// per message.
func writeCosts(b *strings.Builder, p *Phase) {
	for _, n := range p.Nodes {
		role := ""
		if n.Router {
			role = ", router"
		}
		fmt.Fprintf(b, "  node %-6s %d bot(s), %d consumers%s: cpu %.0f µs/msg (%.2fs), RSS %s, %d store commits\n",
			n.ID, n.Bots, n.Consumers, role, n.CPUPerMessageMicros, n.CPUSeconds, mib(n.RSSBytes), n.StoreCommits)
	}
	if d := p.Database; d != nil {
		fmt.Fprintf(b, "  database  %s: %.2f commits/msg (%d)", d.Kind, d.CommitsPerMessage, d.Commits)
		if d.Kind == "postgresql" {
			b.WriteString(" by pg_stat_database.xact_commit, reads included;")
		}
		fmt.Fprintf(b, " store write commits %.2f/msg holding %.2f writes/msg\n", d.StoreCommitsPerMessage, d.StoreWritesPerMessage)
	}
}
