package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// adminPasswordFile keeps the admin password of a data folder the bench
// created, so a later run on the same folder can log in.
const adminPasswordFile = "bench-admin-password"

// server is the botrelay the bench measures.
type server struct {
	o       *Options
	base    string
	addr    string
	child   *child
	data    string
	pprof   string
	env     []string
	stats   func() (procSample, error)
	metrics *http.Client
	// extra are serve flags beyond --addr and --data (the database, the
	// node id); ready is the path polled until 200 (default /healthz).
	extra []string
	ready string
	// id is the node id in a cluster run; peers are the other nodes,
	// started after this one; pg is the PostgreSQL schema of the run.
	id    string
	peers []*server
	pg    *pgRun
	// router and bots are the cluster's placement when the load started.
	router string
	bots   map[string]int
}

func (s *server) start(ctx context.Context) (time.Duration, error) {
	args := slices.Clone(s.o.ServerArgs)
	if s.pprof != "" {
		args = append(args, "--bench-debug="+s.pprof)
	}
	args = append(args, "--addr", s.addr, "--data", s.data)
	args = append(args, s.extra...)
	ready := s.ready
	if ready == "" {
		ready = "/healthz"
	}
	t0 := time.Now()
	exe := s.o.Exe
	if s.o.ServerExe != "" {
		exe = s.o.ServerExe
	}
	c, err := startChild(exe, s.env, filepath.Join(s.data, "bench-server.log"), args...)
	if err != nil {
		return 0, err
	}
	s.child = c
	d, err := c.waitHealthy(ctx, s.base+ready, t0, 60*time.Second)
	if err != nil {
		c.stop(10 * time.Second)
		return 0, err
	}
	return d, nil
}

// runBotrelay measures botrelay: it starts a server (or uses o.Server),
// creates the bots, opens the idle conversations and the consumers, runs
// the load, and restarts the server to time its readiness.
func runBotrelay(ctx context.Context, o *Options, r *Report) error {
	s := &server{o: o, metrics: &http.Client{Timeout: 10 * time.Second}}
	password := o.Password
	if o.Server == "" {
		pw, cleanup, err := s.launch(ctx, r, password)
		defer cleanup()
		if err != nil {
			return err
		}
		password = pw
	} else {
		s.base = strings.TrimRight(o.Server, "/")
		s.stats = func() (procSample, error) { return scrapeProcess(ctx, s.metrics, s.base) }
	}
	user := o.User
	if user == "" {
		user = "admin"
	}
	a, err := login(ctx, s.base, user, password)
	if err != nil {
		return err
	}
	if len(s.peers) > 0 {
		// The cluster spreads every started bot over the nodes: only the
		// bench's run, so each node's figures are its share of the load.
		if err := a.stopOthers(ctx); err != nil {
			return err
		}
	}
	ids, skillName, err := setupBots(ctx, o, a, r)
	if err != nil {
		return err
	}
	if len(s.peers) > 0 {
		if err := s.waitSpread(ctx, a, ids); err != nil {
			return err
		}
	}
	tgt := target{kind: "botrelay", base: s.base, bases: s.bases(), account: o.Account, skill: skillName}
	epoch := time.Now()
	rawBase, base := s.sample(ctx)
	r.Setup.ServerRSSBaseBytes = base.RSS
	if o.Idle > 0 {
		if base, err = s.openIdle(ctx, r, tgt, epoch, rawBase, base); err != nil {
			return err
		}
	}
	if o.IdleClone > o.Idle {
		if base, err = s.cloneAndRestart(ctx, r, ids, user, password); err != nil {
			return err
		}
	}
	if err := s.runLive(ctx, r, tgt, epoch, base); err != nil {
		return err
	}
	if o.Server == "" && o.Readiness > 0 && len(s.peers) == 0 {
		return s.measureReadiness(ctx, r, ids, user, password)
	}
	return nil
}

// launch starts a botrelay child on a data folder of its own (o.Data or a
// temporary one) with an admin password it keeps there, and returns that
// password. cleanup stops the child and removes a temporary folder; the
// caller runs it even when launch fails.
func (s *server) launch(ctx context.Context, r *Report, password string) (pw string, cleanup func(), err error) {
	o := s.o
	var stop []func()
	cleanup = func() {
		for i := len(stop) - 1; i >= 0; i-- {
			stop[i]()
		}
	}
	s.data = o.Data
	if s.data == "" {
		if s.data, err = os.MkdirTemp("", "botrelay-bench-"); err != nil {
			return "", cleanup, err
		}
		if !o.KeepData {
			data := s.data
			stop = append(stop, func() { os.RemoveAll(data) })
		}
	}
	if err := os.MkdirAll(s.data, 0o700); err != nil {
		return "", cleanup, err
	}
	if password, err = keptPassword(s.data, password); err != nil {
		return "", cleanup, err
	}
	// The load comes from one address: the consumer limits would cut it.
	s.env = append(slices.Clone(o.ChildEnv), "BOTRELAY_ADMIN_PASSWORD="+password,
		"BOTRELAY_CONSUMERS_TOKENS_PER_MINUTE=0", "BOTRELAY_CONSUMERS_CONVERSATIONS_PER_MINUTE=0",
		"BOTRELAY_CONSUMERS_CONVERSATIONS_PER_CONSUMER=0", "BOTRELAY_CONSUMERS_MESSAGES_PER_MINUTE=0",
		"BOTRELAY_CONSUMERS_MESSAGES_PER_CONSUMER=0", "BOTRELAY_CONSUMERS_UPLOADS_PER_MINUTE=0")
	if s.addr, err = freeAddr(); err != nil {
		return "", cleanup, err
	}
	if s.pprof, err = freeAddr(); err != nil {
		return "", cleanup, err
	}
	s.base = "http://" + s.addr
	if o.Database != "" {
		if s.pg, err = openPG(ctx, o.Database); err != nil {
			return "", cleanup, err
		}
		stop = append(stop, func() { s.pg.close(o.KeepData, o) })
		s.extra = []string{"--database", s.pg.dsn}
		r.Config.Store, r.Config.Schema = s.pg.settings(ctx), s.pg.schema
		o.logf("database %s, schema %s", s.pg.dbName, s.pg.schema)
	}
	if o.Nodes > 1 {
		if err := s.clusterNode(1); err != nil {
			return "", cleanup, err
		}
	}
	o.logf("starting botrelay on %s, data folder %s", s.addr, s.data)
	d, err := s.start(ctx)
	if err != nil {
		return "", cleanup, err
	}
	r.Setup.FirstStartMs = ms(d)
	stop = append(stop, func() { s.stopAll() })
	if err := s.startPeers(ctx); err != nil {
		return "", cleanup, err
	}
	s.stats = s.sumStats
	return password, cleanup, nil
}

// keptPassword is the admin password: the one given, else the one kept in
// the data folder, else a new one it keeps there.
func keptPassword(data, password string) (string, error) {
	pwFile := filepath.Join(data, adminPasswordFile)
	if b, err := os.ReadFile(pwFile); err == nil && password == "" {
		return strings.TrimSpace(string(b)), nil
	} else if password == "" {
		password = "bench-" + randHex(12)
		if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
			return "", err
		}
	}
	return password, nil
}

// setupBots creates o.Bots bots of the bench's vendor on a new skill and
// waits until they are ONLINE; it returns their ids and the skill's name.
func setupBots(ctx context.Context, o *Options, a *api, r *Report) (ids []string, skillName string, err error) {
	vendor := NoopVendorID
	var settings any = map[string]any{}
	if o.Vendor == "function" {
		vendor = "function"
		settings = map[string]any{"code": EchoFunctionCode}
	}
	if vs, err := a.vendors(ctx); err != nil {
		return nil, "", err
	} else if !slices.Contains(vs, vendor) {
		return nil, "", fmt.Errorf("the server has no vendor %q (a server the bench did not start has only the built-in vendors: use --vendor function)", vendor)
	}
	run := randHex(3)
	skillName = "bench-" + run
	skill, err := a.ensureSkill(ctx, skillName)
	if err != nil {
		return nil, "", err
	}
	profile, err := a.profileID(ctx, "Agent")
	if err != nil {
		return nil, "", err
	}
	t0 := time.Now()
	for i := range o.Bots {
		id, err := a.createBot(ctx, fmt.Sprintf("bench-%s-%d", run, i+1), profile, skill, vendor, settings, o.MaxOpenPerBot)
		if err != nil {
			return nil, "", fmt.Errorf("create bot %d: %w", i+1, err)
		}
		ids = append(ids, id)
	}
	if err := a.waitOnline(ctx, ids, 60*time.Second+time.Duration(o.Bots)*time.Second); err != nil {
		return nil, "", err
	}
	r.Setup.BotsOnlineMs = ms(time.Since(t0))
	o.logf("%d bot(s) ONLINE on skill %s after %v", o.Bots, skillName, time.Since(t0).Round(time.Millisecond))
	return ids, skillName, nil
}

// sample waits for the server to be idle, samples its memory as it is
// (raw), then asks it to collect garbage and return free memory to the
// system, and samples again.
func (s *server) sample(ctx context.Context) (raw, after procSample) {
	sleepCtx(ctx, max(s.o.Settle, 0))
	raw, _ = s.stats()
	after = raw
	if s.pprof != "" {
		if resp, err := s.metrics.Post("http://"+s.pprof+"/debug/gc", "", nil); err == nil {
			resp.Body.Close()
			after, _ = s.stats()
		}
	}
	return raw, after
}

// openIdle opens o.Idle conversations that stay idle and records the memory
// they take; it returns the memory sample after them, the live load's base.
func (s *server) openIdle(ctx context.Context, r *Report, tgt target, epoch time.Time, rawBase, base procSample) (procSample, error) {
	o := s.o
	heap0 := scrapeHeap(ctx, s.metrics, s.base)
	o.logf("opening %d idle conversations", o.Idle)
	t0 := time.Now()
	if _, err := openMany(ctx, tgt, o.Idle, o.Parallel, false, epoch, func(n int) {
		if n%10000 == 0 {
			o.logf("  %d open (%.0f/s)", n, float64(n)/time.Since(t0).Seconds())
		}
	}); err != nil {
		return base, err
	}
	opened := time.Since(t0)
	rawAfter, after := s.sample(ctx)
	heap1 := scrapeHeap(ctx, s.metrics, s.base)
	r.Idle = &Idle{Conversations: o.Idle, RSSBeforeBytes: base.RSS, RSSAfterBytes: after.RSS,
		RawRSSBeforeBytes: rawBase.RSS, RawRSSAfterBytes: rawAfter.RSS,
		RSSPerConversationBytes: float64(after.RSS-base.RSS) / float64(o.Idle), OpenedPerSecond: float64(o.Idle) / opened.Seconds()}
	if heap1 > 0 {
		r.Idle.HeapBeforeBytes, r.Idle.HeapAfterBytes = heap0, heap1
		r.Idle.HeapPerConversationBytes = float64(heap1-heap0) / float64(o.Idle)
	}
	o.logf("idle: %d conversations opened in %v; RSS %s → %s", o.Idle, opened.Round(time.Millisecond), mib(base.RSS), mib(after.RSS))
	return after, nil
}

// runLive opens o.Consumers consumers, runs the load through them and
// records the result in r.Botrelay.
func (s *server) runLive(ctx context.Context, r *Report, tgt target, epoch time.Time, base procSample) error {
	o := s.o
	o.logf("opening %d consumers", o.Consumers)
	t0 := time.Now()
	cs, err := openMany(ctx, tgt, o.Consumers, o.Parallel, true, epoch, nil)
	if err != nil {
		return err
	}
	defer closeAll(cs)
	r.Setup.OpenConsumersMs = ms(time.Since(t0))
	_, live := s.sample(ctx)
	r.Setup.ServerRSSAfterBytes = live.RSS
	if err := prime(ctx, cs, 60*time.Second); err != nil {
		return err
	}
	var w0, w1 windowSample
	p, err := measure(ctx, o, cs, s.stats, s.pprof, func(start bool) {
		if o.Server != "" {
			return
		}
		if start {
			w0 = s.sampleWindow(ctx)
		} else {
			w1 = s.sampleWindow(ctx)
		}
	})
	if err != nil {
		return err
	}
	s.windowFigures(p, w0, w1)
	p.LiveRSSPerConversationBytes = float64(live.RSS-base.RSS) / float64(o.Consumers)
	r.Botrelay = p
	o.logf("botrelay: %.0f msg/s, p99 %.2f ms", p.MessagesPerSecond, p.Latency.P99)
	return nil
}

// measureReadiness restarts the server o.Readiness times and records how
// long each takes to answer /healthz 200, and after the last how long its
// bots take to be ONLINE again.
func (s *server) measureReadiness(ctx context.Context, r *Report, ids []string, user, password string) error {
	o := s.o
	rd := &Readiness{OpenConversations: max(o.Idle, o.IdleClone) + o.Consumers}
	for i := range o.Readiness {
		s.child.stop(60 * time.Second)
		s.child = nil
		d, err := s.start(ctx)
		if err != nil {
			return fmt.Errorf("restart %d: %w", i+1, err)
		}
		rd.RunsMs = append(rd.RunsMs, ms(d))
		o.logf("restart %d: /healthz 200 after %v", i+1, d.Round(time.Millisecond))
		if i == o.Readiness-1 {
			t0 := time.Now().Add(-d)
			if a, err := login(ctx, s.base, user, password); err == nil && a.waitOnline(ctx, ids, 120*time.Second) == nil {
				rd.ResumeMs = ms(time.Since(t0))
			}
		}
	}
	sorted := slices.Clone(rd.RunsMs)
	slices.Sort(sorted)
	rd.MedianMs, rd.MaxMs = sorted[len(sorted)/2], sorted[len(sorted)-1]
	r.Readiness = rd
	return nil
}
