package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/botrelay/botrelay/internal/chatclient"
)

// chatCommand runs `botrelay chat`: a consumer client for terminals and
// scripts (DESIGN.md).
func chatCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	server := fs.String("server", envOr("BOTRELAY_SERVER", "http://127.0.0.1:8080"), "botrelay server `url`")
	account := fs.String("account", "1000", "account `id`")
	skill := fs.String("skill", "bot", "skill `name` the conversation is routed to")
	idle := fs.Duration("idle", 3*time.Second, "with non-terminal input: exit this long after input ends and nothing arrives")
	caFile := fs.String("ca", "", "PEM `file` of a CA to trust (e.g. tls-ca.pem of --tls-self-signed)")
	tokenFile := fs.String("token-file", "", "`file` that keeps the consumer token, to continue a conversation later")
	const usage = "usage: botrelay chat [flags]\n\nChat as a consumer. Each input line is sent as a message; each message received is printed as one line (bot: …, agent: …, system: …).\n\nFlags:\n"
	if code, ok := parseFlags(fs, "chat", usage, args, stdout, stderr); !ok {
		return code
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(stderr, "botrelay chat: read --ca: %v\n", err)
			return 1
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(stderr, "botrelay chat: --ca %s holds no PEM certificate\n", *caFile)
			return 1
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	interactive := false
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			interactive = true
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := chatclient.Run(ctx, chatclient.Options{Server: *server, Account: *account, Skill: *skill, Idle: *idle,
		In: stdin, Out: stdout, Interactive: interactive, HTTPClient: client, TokenFile: *tokenFile})
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "botrelay chat: "+oneLine(err.Error()))
		return 1
	}
	return 0
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func oneLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
