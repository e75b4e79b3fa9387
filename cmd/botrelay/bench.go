package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/botrelay/botrelay/internal/app"
	"github.com/botrelay/botrelay/internal/bench"
)

// benchChildEnv is added to the environment of the servers the bench
// starts (tests set it so the test binary behaves as botrelay).
var benchChildEnv []string

const benchUsage = `usage: botrelay bench [flags]

Starts botrelay with a fresh data folder (or targets a server with --server),
creates started bots with an instant vendor, opens consumer conversations,
sends messages for a while and reports messages per second end to end
(consumer → bot reply seen by the consumer), latency percentiles, the
server's CPU per message and resident memory per open conversation. With --database
the started server uses PostgreSQL (a fresh schema per run), with --nodes N
that many cluster nodes on it, and the report adds each node's CPU per
message and the database commits per message; --compare-sqlite runs the
same load on SQLite first and reports PostgreSQL's share of its throughput.
The same
load then runs through the floor, a minimal relay built into the bench, for
the ratio. A summary goes to standard output (--json for the JSON report),
progress to standard error. BENCHMARKS.md shows the runs behind the published
figures.

Flags:
`

// benchCommand is `botrelay bench`: it parses the flags, runs the bench and
// prints its report.
func benchCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "server":
			return benchServer(args[1:], stdout, stderr)
		case "floor":
			return benchFloor(args[1:], stderr)
		}
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		server    = fs.String("server", "", "target a running server `URL` instead of starting one (log in with --user and BOTRELAY_PASSWORD)")
		user      = fs.String("user", "admin", "login `name` for the management API of --server")
		data      = fs.String("data", "", "data `folder` of the started server (default: a temporary folder, removed afterwards)")
		keep      = fs.Bool("keep-data", false, "keep the temporary data folder (and the --database schema)")
		database  = fs.String("database", "", "PostgreSQL `url` (postgres://…) the started servers use, in a fresh schema dropped afterwards; default SQLite in the data folder")
		compare   = fs.Bool("compare-sqlite", false, "with --database: run the same load on SQLite first, then on PostgreSQL, and report PostgreSQL's throughput as a share of SQLite's")
		nodes     = fs.Int("nodes", 1, "cluster nodes to start on --database (more than one needs PostgreSQL); consumers connect to them in turn")
		vendor    = fs.String("vendor", "noop", "bot vendor: noop (instant echo) or function (echo in JavaScript)")
		bots      = fs.Int("bots", 1, "started bots sharing the conversations")
		consumers = fs.Int("consumers", 100, "connected consumers, one conversation each, that send")
		idle      = fs.Int("idle", 0, "extra conversations opened and left open with no consumer connected, to measure memory")
		idleClone = fs.Int("idle-clone", 0, "replicate the --idle conversations (default 1000) in the stopped server's store up to `N` open ones, restart it on them and report its readiness and memory")
		serverExe = fs.String("server-exe", "", "run the started servers with this botrelay `executable` (default: this one), to compare two builds")
		maxOpen   = fs.Int("max-open", 0, "each bot's open-conversation cap (default: its share, at least 999)")
		rate      = fs.Float64("rate", 0, "messages per `second` in all; 0 = as fast as answers come back")
		window    = fs.Int("window", 1, "messages outstanding per consumer when --rate is 0")
		warmup    = fs.Duration("warmup", 2*time.Second, "load before measuring")
		duration  = fs.Duration("duration", 10*time.Second, "measured time")
		drain     = fs.Duration("drain", 10*time.Second, "longest wait for answers after the measured time")
		parallel  = fs.Int("parallel", 32, "conversations opened at once")
		settle    = fs.Duration("settle", 3*time.Second, "pause before each memory sample (negative: none)")
		floor     = fs.Bool("floor", true, "run the same load through the floor relay for the ratio")
		ready     = fs.Int("readiness", 3, "restart the started server this many times on its data folder and time /healthz (0: skip)")
		cpuprof   = fs.String("cpuprofile", "", "write the started server's CPU profile of the measured time to `file`")
		asJSON    = fs.Bool("json", false, "print the JSON report instead of the summary")
		out       = fs.String("out", "", "also write the JSON report to `file`")
		quiet     = fs.Bool("quiet", false, "no progress lines")
	)
	if code, ok := parseFlags(fs, "bench", benchUsage, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "botrelay bench: unexpected argument %q; run 'botrelay bench -h' for the flags\n", fs.Arg(0))
		return 2
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "botrelay bench: %v\n", err)
		return 1
	}
	o := bench.Options{Exe: exe, ServerArgs: []string{"bench", "server"}, FloorArgs: []string{"bench", "floor"},
		ChildEnv: benchChildEnv, Server: *server, User: *user, Password: os.Getenv("BOTRELAY_PASSWORD"),
		Data: *data, KeepData: *keep, Database: *database, Nodes: *nodes, Vendor: *vendor, Bots: *bots, Consumers: *consumers, Idle: *idle,
		IdleClone: *idleClone, ServerExe: *serverExe,
		MaxOpenPerBot: *maxOpen, Rate: *rate, Window: *window, Warmup: *warmup, Duration: *duration, Drain: *drain,
		Parallel: *parallel, Settle: *settle, Floor: *floor, Readiness: *ready, CPUProfile: *cpuprof, CompareSQLite: *compare, Progress: stderr}
	if *quiet {
		o.Progress = nil
	}
	if *server != "" {
		o.Readiness = 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "botrelay bench: "+strings.SplitN(err.Error(), "\n", 2)[0])
		return 1
	}
	return writeBenchReport(report, *out, *asJSON, stdout, stderr)
}

// writeBenchReport writes the JSON report to out (when set) and prints the
// JSON report or the summary; it returns the command's exit code.
func writeBenchReport(report *bench.Report, out string, asJSON bool, stdout, stderr io.Writer) int {
	js, _ := json.MarshalIndent(report, "", "  ")
	if out != "" {
		if err := os.WriteFile(out, append(js, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "botrelay bench: %v\n", err)
			return 1
		}
	}
	if asJSON {
		fmt.Fprintf(stdout, "%s\n", js)
	} else {
		report.WriteSummary(stdout)
	}
	return 0
}

// benchServer is `botrelay bench server [--bench-debug=ADDR] <serve flags>`:
// botrelay serve with the bench's no-op vendor registered and, on a separate
// loopback listener, the CPU profiler and a way to return free memory to the
// system before the bench samples it. The bench starts it.
func benchServer(args []string, stdout, stderr io.Writer) int {
	var rest []string
	for _, a := range args {
		if addr, ok := strings.CutPrefix(a, "--bench-debug="); ok {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				fmt.Fprintf(stderr, "botrelay bench server: debug listener: %v\n", err)
				return 1
			}
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			// The bench collects garbage and returns it to the system before
			// it samples idle memory, so the figure is what stays resident.
			mux.HandleFunc("POST /debug/gc", func(w http.ResponseWriter, r *http.Request) { debug.FreeOSMemory() })
			go func() { _ = http.Serve(ln, mux) }()
			continue
		}
		rest = append(rest, a)
	}
	reg := newRegistry()
	reg.RegisterVendor(bench.NoopConnector{})
	return app.ServeCommand(rest, stdout, stderr, reg)
}

// benchFloor is `botrelay bench floor --addr HOST:PORT --agents N`: the
// floor relay the bench compares botrelay with.
func benchFloor(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	agents := fs.Int("agents", 1, "echo agents")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.RunFloor(ctx, *addr, *agents); err != nil {
		fmt.Fprintf(stderr, "botrelay bench floor: %v\n", err)
		return 1
	}
	return 0
}
