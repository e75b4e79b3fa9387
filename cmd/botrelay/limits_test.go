package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// procMemory reads VmRSS and VmHWM (bytes) of a process from /proc.
func procMemory(t *testing.T, pid int) (rss, hwm int64) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = n << 10
		case "VmHWM:":
			hwm = n << 10
		}
	}
	return rss, hwm
}

// loopbackClient is a client whose connections leave from ip.
func loopbackClient(ip string, conns int) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 30 * time.Second}
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DialContext: d.DialContext,
		MaxIdleConnsPerHost: conns, MaxIdleConns: conns}}
}

type reply struct {
	status     int
	retryAfter string
	body       string
}

func postJSONReply(c *http.Client, url string, body any) (reply, error) {
	b, _ := json.Marshal(body)
	res, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header.Get("Retry-After"), string(raw)}, err
}

var limitedBody = regexp.MustCompile(`^\{"error":\{"code":"(rate_limited|unavailable)","message":"[^"]+; try again in \d+ s"\}\}\n$`)

// TestAgentLoginFloodKeepsMemoryAndHealth: 1,000 concurrent wrong agent
// logins against a real `botrelay serve` (default argon2 cost, 19 MiB per
// check) with the guessing limits raised out of the way, so that only the
// hash pool protects the server. Its RSS must stay under 300 MiB above
// idle and /healthz must answer within 100 ms at the 99th percentile;
// logins the pool cannot take in time get 503 with Retry-After.
func TestAgentLoginFloodKeepsMemoryAndHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("a 1,000-login flood; skipped with -short")
	}
	if runWithoutRace(t, t.Name()) {
		return
	}
	p := start(t, []string{"BOTRELAY_ADMIN_PASSWORD=flood-test-password",
		"BOTRELAY_LOGIN_PAIR_FAILURES=1000000", "BOTRELAY_LOGIN_NAME_FAILURES=1000000", "BOTRELAY_LOGIN_ADDRESS_FAILURES=1000000"},
		"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	base := p.waitListening(t)
	pid := p.cmd.Process.Pid
	for range 5 { // warm up the handler
		if code, _ := get(t, base+"/healthz"); code != 200 {
			t.Fatalf("/healthz = %d", code)
		}
	}
	idle, _ := procMemory(t, pid)

	// /healthz is probed from a separate process, as a load balancer or
	// an orchestrator would, so the flood's client goroutines in this
	// process do not delay the probe's own reads.
	probe := exec.Command(os.Args[0])
	probe.Env = append(cleanEnv(), "BOTRELAY_TEST_HEALTH_PROBE="+base+"/healthz")
	probeIn, err := probe.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	probeOut, err := probe.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := probe.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = probe.Process.Kill(); _ = probe.Wait() })
	var probeLines []string
	firstProbe, probeDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(probeDone)
		sc := bufio.NewScanner(probeOut)
		for sc.Scan() {
			probeLines = append(probeLines, sc.Text())
			if len(probeLines) == 1 {
				close(firstProbe)
			}
		}
	}()
	select {
	case <-firstProbe:
	case <-probeDone:
		t.Fatalf("the health probe ended before its first answer: %q", probeLines)
	case <-time.After(30 * time.Second):
		t.Fatal("no answer from the health probe within 30s")
	}
	var peakRSS int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			rss, _ := procMemory(t, pid)
			peakRSS = max(peakRSS, rss)
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()

	flood := loopbackClient("127.0.0.1", 1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	startAt := time.Now()
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := postJSONReply(flood, base+"/api/account/1000/login?v=1.3",
				map[string]string{"username": "admin", "password": fmt.Sprintf("wrong guess %d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			if r.status == http.StatusServiceUnavailable && (r.retryAfter == "" || !limitedBody.MatchString(r.body)) {
				t.Errorf("503 without Retry-After or the error body: %q %s", r.retryAfter, r.body)
			}
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(startAt)
	close(stop)
	<-watched
	_, hwm := procMemory(t, pid)
	probeIn.Close()
	<-probeDone
	if err := probe.Wait(); err != nil {
		t.Fatalf("health probe: %v\n%s", err, strings.Join(probeLines, "\n"))
	}
	var latencies []time.Duration
	for _, line := range probeLines {
		f := strings.Fields(line)
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || len(f) != 2 {
			t.Fatalf("health probe: %s", strings.Join(probeLines, "\n"))
		}
		if at, _ := strconv.ParseInt(f[1], 10, 64); ns > int64(50*time.Millisecond) {
			t.Logf("slow /healthz: %v, sent %v after the flood started", time.Duration(ns), time.Unix(0, at).Sub(startAt).Round(time.Millisecond))
		}
		latencies = append(latencies, time.Duration(ns))
	}
	if len(latencies) < 10 {
		t.Fatalf("only %d /healthz samples during the flood", len(latencies))
	}
	slices.Sort(latencies)
	p99 := latencies[(len(latencies)*99+99)/100-1]
	const mib = 1 << 20
	t.Logf("1000 logins in %v: %v; idle RSS %d MiB, peak sampled RSS %d MiB, VmHWM %d MiB; /healthz p50 %v p99 %v max %v over %d samples",
		took.Round(time.Millisecond), statuses, idle/mib, peakRSS/mib, hwm/mib,
		latencies[len(latencies)/2], p99, latencies[len(latencies)-1], len(latencies))
	if statuses[http.StatusUnauthorized]+statuses[http.StatusServiceUnavailable] != 1000 || statuses[http.StatusUnauthorized] == 0 {
		t.Errorf("answers %v, want only 401 (checked) and 503 (no room in time), some checked", statuses)
	}
	if growth := max(peakRSS, hwm) - idle; growth >= 300*mib {
		t.Errorf("RSS grew %d MiB above idle (%d MiB), want under 300 MiB", growth/mib, idle/mib)
	}
	if p99 > 100*time.Millisecond {
		t.Errorf("/healthz p99 %v during the flood, want at most 100ms", p99)
	}
	var metric float64
	_, body := get(t, base+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "botrelay_login_password_checks_total "); ok {
			metric, _ = strconv.ParseFloat(v, 64)
		}
	}
	if int(metric) != statuses[http.StatusUnauthorized] {
		t.Errorf("botrelay_login_password_checks_total = %v, want the %d checked logins", metric, statuses[http.StatusUnauthorized])
	}
	p.stop(t)
}

// TestOneLimiterForBothLogins: wrong passwords at the agent login count
// against /api/v1/login too (one limiter), the right password from another
// address still works, and 429 answers carry Retry-After and the error
// body.
func TestOneLimiterForBothLogins(t *testing.T) {
	// Hour-long delays, so that the refusal does not depend on how fast
	// the (possibly race-instrumented) server checks the guesses.
	p := start(t, []string{"BOTRELAY_ADMIN_PASSWORD=both-logins-password", "BOTRELAY_LOGIN_DELAY=1h", "BOTRELAY_LOGIN_MAX_DELAY=1h"},
		"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	base := p.waitListening(t)
	stranger, user := loopbackClient("127.0.0.2", 4), loopbackClient("127.0.0.3", 4)
	for i := range 5 {
		r, err := postJSONReply(stranger, base+"/api/account/1000/login?v=1.3", map[string]string{"username": "admin", "password": fmt.Sprint("guess ", i)})
		if err != nil || r.status != http.StatusUnauthorized {
			t.Fatalf("agent login guess %d: %+v %v", i+1, r, err)
		}
	}
	r, err := postJSONReply(stranger, base+"/api/v1/login", map[string]string{"loginName": "admin", "password": "both-logins-password"})
	if n, _ := strconv.Atoi(r.retryAfter); err != nil || r.status != http.StatusTooManyRequests || n < 3500 || n > 3600 || !limitedBody.MatchString(r.body) {
		t.Fatalf("/api/v1/login after 5 wrong agent logins from the same address: %+v %v, want 429 with Retry-After about 3600", r, err)
	}
	r, err = postJSONReply(user, base+"/api/v1/login", map[string]string{"loginName": "admin", "password": "both-logins-password"})
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("/api/v1/login from another address: %+v %v", r, err)
	}
	r, err = postJSONReply(user, base+"/api/account/1000/login?v=1.3", map[string]string{"username": "admin", "password": "both-logins-password"})
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("agent login from another address: %+v %v", r, err)
	}
	p.stop(t)
}

// healthProbe is the test binary as a separate /healthz prober: until its
// standard input closes it GETs url over one kept-alive connection every
// 10 ms and prints each answer's latency in nanoseconds, one per line. A
// failed or non-200 answer ends it with status 1.
func healthProbe(url string, stdin io.Reader, stdout io.Writer) int {
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stdin); close(done) }()
	c := &http.Client{Timeout: 30 * time.Second}
	for {
		t0 := time.Now()
		res, err := c.Get(url)
		if err != nil {
			fmt.Fprintln(stdout, "probe:", err)
			return 1
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		d := time.Since(t0)
		if res.StatusCode != http.StatusOK {
			fmt.Fprintln(stdout, "probe: status", res.StatusCode)
			return 1
		}
		fmt.Fprintln(stdout, d.Nanoseconds(), t0.UnixNano())
		select {
		case <-done:
			return 0
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// runWithoutRace runs the test named name in a copy of this test binary
// built without the race detector, when this one runs under -race (as CI
// runs it), and reports whether it did: the race detector's own memory and
// CPU, in the server and in the clients, would swamp what is measured. The
// copy is built once per test process.
func runWithoutRace(t *testing.T, name string) bool {
	t.Helper()
	if !raceEnabled {
		return false
	}
	exe := plainTestBinary(t)
	cmd := exec.Command(exe, "-test.run", "^"+name+"$", "-test.v", "-test.count", "1", "-test.timeout", "20m")
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	t.Logf("%s without -race:\n%s", name, out)
	if err != nil {
		t.Fatalf("%s without -race: %v", name, err)
	}
	return true
}

var plainBinary struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// plainTestBinary builds this package's tests without -race, once; the
// folder is removed when the test process ends (TestMain).
func plainTestBinary(t *testing.T) string {
	t.Helper()
	plainBinary.once.Do(func() {
		plainBinary.dir, plainBinary.err = os.MkdirTemp("", "botrelay-plain-")
		if plainBinary.err != nil {
			return
		}
		goCmd, err := exec.LookPath("go")
		if err != nil {
			goCmd = "/usr/local/go/bin/go" // where .ci/run expects Go
		}
		plainBinary.out, plainBinary.err = exec.Command(goCmd, "test", "-c", "-o",
			filepath.Join(plainBinary.dir, "botrelay.test"), ".").CombinedOutput()
	})
	if plainBinary.err != nil {
		t.Fatalf("go test -c without -race: %v\n%s", plainBinary.err, plainBinary.out)
	}
	return filepath.Join(plainBinary.dir, "botrelay.test")
}
