// Package bench is the load generator behind `botrelay bench` and
// BENCHMARKS.md. It starts botrelay as a child process (or targets a
// running server), creates started bots through the management API, opens
// consumer conversations over the hub's consumer websocket, sends messages
// at a fixed or unbounded rate and measures, end to end as a consumer sees
// it, messages per second, latency percentiles, the server's CPU per message
// and its resident memory per open conversation. In the same run it drives
// the same load through a minimal relay (the floor, see floor.go), so each
// figure is also a ratio to what the machine can do.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options configure a run.
type Options struct {
	// Exe is the botrelay executable the bench starts its servers with;
	// ServerArgs run botrelay's server with the bench vendor registered
	// (cmd/botrelay: "bench", "server"), FloorArgs the floor ("bench",
	// "floor"). ChildEnv is added to their environment.
	Exe        string
	ServerArgs []string
	FloorArgs  []string
	ChildEnv   []string

	// Server targets a running server (http://host:port) instead of
	// starting one; User and Password log in to its management API. CPU and
	// memory then come from its /metrics.
	Server, User, Password string
	// Account is the hub's account id. Default 1000.
	Account string

	// Data is the data folder of the started server; empty: a temporary
	// folder, removed at the end unless KeepData.
	Data     string
	KeepData bool
	// Database, when set, is a postgres:// URL: the started servers use a
	// fresh schema in that database (dropped at the end unless KeepData)
	// instead of SQLite in the data folder.
	Database string
	// Nodes is how many cluster nodes to start on Database (more than one
	// needs PostgreSQL); the consumers connect to them in turn. Default 1.
	Nodes int

	// Vendor is "noop" (the bench's instant vendor) or "function" (an echo
	// bot in JavaScript). Default noop.
	Vendor string
	// Bots is how many started bots share the conversations. Default 1.
	Bots int
	// Consumers is how many consumers stay connected and send. Default 100.
	Consumers int
	// Idle is how many more conversations are opened, assigned to the bots,
	// and left open with no consumer connected, before the load.
	Idle int
	// IdleClone, when above Idle, replicates the Idle conversations in the
	// stopped server's store until it holds IdleClone open ones, restarts
	// the server on it and measures it (clone.go). Started server only.
	IdleClone int
	// ServerExe, when set, is the executable the started servers run
	// (default Exe): an A/B of two builds under one bench.
	ServerExe string
	// MaxOpenPerBot is each bot's open-conversation cap; default: enough
	// for its share (at least the product's default, 999).
	MaxOpenPerBot int
	// Rate is messages per second across all consumers; 0 sends as fast as
	// answers come back, Window messages outstanding per consumer.
	Rate   float64
	Window int
	// Warmup, Duration and Drain shape the load: nothing is measured during
	// the warm-up; after Duration the bench waits up to Drain for answers.
	Warmup, Duration, Drain time.Duration
	// Parallel is how many conversations are opened at once. Default 32.
	Parallel int
	// Settle is the pause before each memory sample, so the server is idle
	// when it is taken. Default 3s; negative: no pause.
	Settle time.Duration
	// Floor runs the same load through the floor relay.
	Floor bool
	// Readiness restarts the started server this many times on its data
	// folder and times /healthz. 0: skip.
	Readiness int
	// CPUProfile, when set, is where the server's CPU profile of the
	// measured window is written (started server only).
	CPUProfile string
	// CompareSQLite runs the same load on SQLite first and reports the
	// --database run's throughput as a share of it (compare.go).
	CompareSQLite bool
	// Progress receives one line per step; nil: discarded.
	Progress io.Writer
}

func (o *Options) defaults() error {
	if o.Account == "" {
		o.Account = "1000"
	}
	if o.Vendor == "" {
		o.Vendor = "noop"
	}
	if o.Vendor != "noop" && o.Vendor != "function" {
		return fmt.Errorf("vendor must be noop or function, not %q", o.Vendor)
	}
	if o.Bots <= 0 {
		o.Bots = 1
	}
	if o.Consumers <= 0 {
		o.Consumers = 100
	}
	if o.Window <= 0 {
		o.Window = 1
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	}
	if o.Drain <= 0 {
		o.Drain = 10 * time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 32
	}
	if o.Settle == 0 {
		o.Settle = 3 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.IdleClone > 0 && o.Idle <= 0 {
		o.Idle = min(o.IdleClone, 1000)
	}
	need := (o.Consumers + max(o.Idle, o.IdleClone) + o.Bots - 1) / o.Bots
	if o.MaxOpenPerBot <= 0 {
		o.MaxOpenPerBot = max(999, need+need/10+10)
	}
	if o.MaxOpenPerBot >= 100000 {
		return fmt.Errorf("%d conversations per bot is above what a bot user's slots allow (99999); add bots", o.MaxOpenPerBot)
	}
	if err := o.checkDatabase(); err != nil {
		return err
	}
	if err := o.checkCompare(); err != nil {
		return err
	}
	if o.Server == "" && o.Exe == "" {
		return errors.New("no botrelay executable to start")
	}
	if o.IdleClone > 0 && (o.Server != "" || o.Nodes > 1) {
		return errors.New("--idle-clone needs the server the bench starts, one node")
	}
	if o.Server != "" && o.User == "" {
		return errors.New("a targeted server needs a user (and password) for its management API")
	}
	return nil
}

func (o *Options) logf(format string, args ...any) {
	fmt.Fprintf(o.Progress, "bench: "+format+"\n", args...)
}

// Run runs the bench and returns its report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	r := &Report{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Config: Config{
		Server: "started", Store: "sqlite (WAL, synchronous=FULL)", Vendor: o.Vendor, Bots: o.Bots, Consumers: o.Consumers,
		IdleConversations: o.Idle, Rate: o.Rate, Window: o.Window, WarmupSeconds: o.Warmup.Seconds(),
		DurationSeconds: o.Duration.Seconds(), MaxOpenPerBot: o.MaxOpenPerBot, Nodes: o.Nodes}}
	if o.Server != "" {
		r.Config.Server, r.Config.Store = o.Server, "as configured on the server"
	}
	if o.CompareSQLite {
		if err := runSQLiteFirst(ctx, &o, r); err != nil {
			return r, err
		}
	}
	if err := runBotrelay(ctx, &o, r); err != nil {
		return r, err
	}
	r.Compare.compare(r.Botrelay)
	if o.Floor {
		p, err := runFloor(ctx, &o)
		if err != nil {
			return r, fmt.Errorf("floor: %w", err)
		}
		r.Floor = p
		if b := r.Botrelay; b != nil {
			if o.Rate <= 0 && p.MessagesPerSecond > 0 {
				r.FloorRatio = b.MessagesPerSecond / p.MessagesPerSecond
			}
			r.AddedLatency = &Latency{P50: b.Latency.P50 - p.Latency.P50, P95: b.Latency.P95 - p.Latency.P95,
				P99: b.Latency.P99 - p.Latency.P99, Max: b.Latency.Max - p.Latency.Max, Mean: b.Latency.Mean - p.Latency.Mean}
		}
	}
	r.Targets = r.judge()
	return r, nil
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version(), FileLimit: raiseFileLimit()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemoryBytes = kb << 10
			}
		}
	}
	return m
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func closeAll(cs []*consumer) {
	for _, c := range cs {
		if c != nil {
			c.c.Close()
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// measure runs the load on cs and fills a Phase with what the client saw
// and what stats says the server spent.
// window, when not nil, runs right after the samples at the start (true)
// and the end (false) of the measured window.
func measure(ctx context.Context, o *Options, cs []*consumer, stats func() (procSample, error), pprofAddr string, window func(start bool)) (*Phase, error) {
	var s0, s1, c0, c1 procSample
	var profErr chan error
	res := runLoad(ctx, cs, o.Rate, o.Window, o.Warmup, o.Duration, o.Drain, func(start bool) {
		if start {
			s0, _ = stats()
			c0, _ = sampleProc(0)
			if pprofAddr != "" && o.CPUProfile != "" {
				profErr = make(chan error, 1)
				go func() { profErr <- fetchProfile(ctx, pprofAddr, o.Duration, o.CPUProfile) }()
			}
		} else {
			s1, _ = stats()
			c1, _ = sampleProc(0)
		}
		if window != nil {
			window(start)
		}
	})
	if profErr != nil {
		if err := <-profErr; err != nil {
			o.logf("CPU profile: %v", err)
		} else {
			o.logf("CPU profile written to %s", o.CPUProfile)
		}
	}
	p := &Phase{Sent: res.sent, Replied: res.replied, Lost: res.sent - res.replied, TotalSent: res.totalSent,
		TotalReplied: res.totalReply, MessagesPerSecond: float64(res.inWindow) / res.window.Seconds(),
		Latency: latency(res.latencies), Rejected: res.nacked, Odd: res.odd, Duplicates: res.dups, Disconnected: res.disconnected,
		DisconnectedBy:   res.closedBy,
		ServerCPUSeconds: (s1.CPU - s0.CPU).Seconds(), ClientCPUSeconds: (c1.CPU - c0.CPU).Seconds(), ServerRSSBytes: s1.RSS,
		inWindow: res.inWindow}
	if res.inWindow > 0 {
		p.CPUPerMessageMicros = p.ServerCPUSeconds * 1e6 / float64(res.inWindow)
	}
	if res.sent == 0 {
		return p, errors.New("no message was sent in the measured window")
	}
	return p, nil
}

func runFloor(ctx context.Context, o *Options) (*Phase, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logDir, err := os.MkdirTemp("", "botrelay-bench-floor-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(logDir)
	args := append(slices.Clone(o.FloorArgs), "--addr", addr, "--agents", strconv.Itoa(o.Bots))
	o.logf("starting the floor on %s", addr)
	c, err := startChild(o.Exe, o.ChildEnv, filepath.Join(logDir, "floor.log"), args...)
	if err != nil {
		return nil, err
	}
	defer c.stop(10 * time.Second)
	base := "http://" + addr
	if _, err := c.waitHealthy(ctx, base+"/healthz", time.Now(), 30*time.Second); err != nil {
		return nil, err
	}
	cs, err := openMany(ctx, target{kind: "floor", base: base}, o.Consumers, o.Parallel, true, time.Now(), nil)
	if err != nil {
		return nil, err
	}
	defer closeAll(cs)
	if err := prime(ctx, cs, 60*time.Second); err != nil {
		return nil, err
	}
	sleepCtx(ctx, max(o.Settle, 0))
	p, err := measure(ctx, o, cs, func() (procSample, error) { return sampleProc(c.pid()) }, "", nil)
	if err != nil {
		return nil, err
	}
	o.logf("floor: %.0f msg/s, p99 %.2f ms", p.MessagesPerSecond, p.Latency.P99)
	return p, nil
}

// fetchProfile saves the server's CPU profile over d.
func fetchProfile(ctx context.Context, addr string, d time.Duration, path string) error {
	hc := &http.Client{Timeout: d + 30*time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(1, int(d.Seconds()))), nil)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// scrapeProcess reads CPU and RSS from a server's /metrics (the process
// collector).
func scrapeProcess(ctx context.Context, hc *http.Client, base string) (procSample, error) {
	m, err := scrape(ctx, hc, base)
	s := procSample{At: time.Now()}
	if err != nil {
		return s, err
	}
	s.CPU = time.Duration(m["process_cpu_seconds_total"] * float64(time.Second))
	s.RSS = int64(m["process_resident_memory_bytes"])
	return s, nil
}

// scrapeHeap reads go_memstats_heap_inuse_bytes from /metrics, or 0.
func scrapeHeap(ctx context.Context, hc *http.Client, base string) int64 {
	m, err := scrape(ctx, hc, base)
	if err != nil {
		return 0
	}
	return int64(m["go_memstats_heap_inuse_bytes"])
}

func scrape(ctx context.Context, hc *http.Client, base string) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || strings.Contains(f[0], "{") {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err == nil {
			out[f[0]] = v
		}
	}
	return out, nil
}
