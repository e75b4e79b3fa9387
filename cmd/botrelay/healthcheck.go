package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// healthcheckCommand asks a running server's GET /healthz and exits 0 when
// it answers 200. It is the container image's HEALTHCHECK (the image has no
// curl): by default it asks the address of BOTRELAY_ADDR on loopback.
func healthcheckCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("url", "", "health `URL` to ask (default http://127.0.0.1:PORT/healthz, PORT from BOTRELAY_ADDR or 8080)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	caFile := fs.String("ca", "", "PEM `file` of the CA to trust for an https URL (tls-ca.pem of --tls-self-signed)")
	if code, ok := parseFlags(fs, "healthcheck", "usage: botrelay healthcheck [--url URL] [--timeout 5s] [--ca FILE]\n", args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "botrelay healthcheck: unexpected argument %q; run 'botrelay healthcheck -h' for the flags\n", fs.Arg(0))
		return 2
	}
	target := *url
	if target == "" {
		target = defaultHealthURL(os.Getenv("BOTRELAY_ADDR"))
	}
	client := &http.Client{Timeout: *timeout}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(stderr, "botrelay healthcheck: read --ca: %v\n", err)
			return 2
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(stderr, "botrelay healthcheck: --ca %s holds no PEM certificate\n", *caFile)
			return 2
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintf(stderr, "botrelay healthcheck: bad --url %q: %v\n", target, err)
		return 2
	}
	res, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "botrelay healthcheck: GET %s: %v; is botrelay serve running there? (set --url)\n", target, oneLine(err.Error()))
		return 1
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		fmt.Fprintf(stderr, "botrelay healthcheck: GET %s: %s %s\n", target, res.Status, oneLine(string(body)))
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// defaultHealthURL is the loopback health URL of the listen address addr
// (BOTRELAY_ADDR): a wildcard or empty host becomes 127.0.0.1.
func defaultHealthURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if addr == "" || err != nil {
		host, port = "", "8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz"
}
