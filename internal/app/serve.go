package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/config"
	"github.com/botrelay/botrelay/internal/gctune"
)

// ServeCommand runs `botrelay serve` with args (after the command name) and
// returns the process exit status. Every error is one line on stderr that
// says what is wrong and how to fix it.
func ServeCommand(args []string, stdout, stderr io.Writer, registry *botrelay.Registry) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		configPath = fs.String("config", "", "YAML configuration `file`")
		addr       = fs.String("addr", "", "listen address `host:port` (default 127.0.0.1:8080)")
		data       = fs.String("data", "", "data `folder` (default ./botrelay-data)")
		database   = fs.String("database", "", "database `url`: empty for SQLite in the data folder, or postgres://…")
		account    = fs.String("account", "", "account `id` the hub serves (default 1000)")
		tlsCert    = fs.String("tls-cert", "", "PEM certificate `file` for HTTPS")
		tlsKey     = fs.String("tls-key", "", "PEM private key `file` for HTTPS")
		selfSigned = fs.Bool("tls-self-signed", false, "serve HTTPS with a generated certificate; its CA is written to the data folder")
		frameAnc   = fs.String("frame-ancestors", "", "space-separated `origins` that may embed the consumer page in a frame (default none)")
		logFormat  = fs.String("log-format", "", "log record `format`: auto (text on a terminal, JSON otherwise), json or text")
		nodeID     = fs.String("node-id", "", "cluster mode: this node's `id` (needs --database postgres://… and --advertise)")
		advertise  = fs.String("advertise", "", "cluster mode: the `url` the other nodes reach this node at, such as http://10.0.0.5:8080")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: botrelay serve [flags]\n\nFlags (each also settable in the config file and as BOTRELAY_<KEY>):")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "botrelay serve: %v; run 'botrelay serve -h' for the flags\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "botrelay serve: unexpected argument %q; run 'botrelay serve -h' for the flags\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.Load(*configPath, os.Environ())
	if err != nil {
		fmt.Fprintln(stderr, "botrelay serve: "+trimLine(err.Error()))
		return 1
	}
	// Flags given on the command line win over the file and the environment.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "addr":
			cfg.Addr = *addr
		case "data":
			cfg.Data = *data
		case "database":
			cfg.Database = *database
		case "account":
			cfg.Account = *account
		case "tls-cert":
			cfg.TLS.Cert = *tlsCert
		case "tls-key":
			cfg.TLS.Key = *tlsKey
		case "tls-self-signed":
			cfg.TLS.SelfSigned = *selfSigned
		case "frame-ancestors":
			cfg.FrameAncestors = *frameAnc
		case "log-format":
			cfg.Log.Format = *logFormat
		case "node-id":
			cfg.Cluster.NodeID = *nodeID
		case "advertise":
			cfg.Cluster.Advertise = *advertise
		}
	})
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "botrelay serve: "+flagHint(trimLine(err.Error())))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The process is one server: give its small heap room between
	// collections (internal/gctune; GOGC or GOMEMLIMIT turn this off).
	gctune.Start(ctx, os.Getenv, 2*time.Second)
	m := &Main{Config: cfg, Stdout: stdout, Logs: stderr, Registry: registry}
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "botrelay serve: "+trimLine(err.Error()))
		return 1
	}
	return 0
}

// flagHint names the flag beside a config key where one exists, so a bad
// --addr is reported as such.
func flagHint(msg string) string {
	for key, flagName := range map[string]string{"addr": "--addr", "data": "--data", "database": "--database",
		"account": "--account", "tls.cert": "--tls-cert", "tls.key": "--tls-key", "tls.self_signed": "--tls-self-signed",
		"frame_ancestors": "--frame-ancestors", "log.format": "--log-format",
		"cluster.node_id": "--node-id", "cluster.advertise": "--advertise"} {
		if strings.HasPrefix(msg, "config: "+key+" ") {
			return msg + " (flag " + flagName + ")"
		}
	}
	return msg
}
