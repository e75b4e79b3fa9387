package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a server process the bench started: botrelay (bench server) or
// the floor.
type child struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startChild runs exe with args (which must make it listen on addr) and the
// extra environment, its output appended to logPath.
func startChild(exe string, env []string, logPath string, args ...string) (*child, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	c := &child{cmd: cmd, log: f, done: make(chan struct{})}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	return c, nil
}

// waitHealthy polls url until it answers 200, and returns how long that
// took from since.
func (c *child) waitHealthy(ctx context.Context, url string, since time.Time, d time.Duration) (time.Duration, error) {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(d)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(since), nil
			}
		}
		select {
		case <-c.done:
			return 0, fmt.Errorf("the server exited before it was ready (%v); see %s", c.err, c.log.Name())
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s did not answer 200 within %v; see %s", url, d, c.log.Name())
		}
	}
}

// stop sends SIGTERM and waits (SIGKILL after d).
func (c *child) stop(d time.Duration) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(d):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.log.Close()
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// procSample is a process's CPU time and resident memory at one moment.
type procSample struct {
	At   time.Time
	CPU  time.Duration // user + system
	RSS  int64         // bytes
	Peak int64         // VmHWM, bytes
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// sampleProc reads /proc/<pid>; pid 0 means this process.
func sampleProc(pid int) (procSample, error) {
	p := "self"
	if pid != 0 {
		p = strconv.Itoa(pid)
	}
	s := procSample{At: time.Now()}
	stat, err := os.ReadFile("/proc/" + p + "/stat")
	if err != nil {
		return s, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return s, fmt.Errorf("short /proc/%s/stat", p)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.CPU = time.Duration(ut+st) * time.Second / clockTicks
	status, err := os.Open("/proc/" + p + "/status")
	if err != nil {
		return s, err
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []struct {
			name string
			dst  *int64
		}{{"VmRSS:", &s.RSS}, {"VmHWM:", &s.Peak}} {
			if strings.HasPrefix(line, k.name) {
				v := strings.Fields(strings.TrimPrefix(line, k.name))
				if len(v) > 0 {
					kb, _ := strconv.ParseInt(v[0], 10, 64)
					*k.dst = kb << 10
				}
			}
		}
	}
	return s, nil
}

// raiseFileLimit lifts the soft limit on open files to the hard limit, so
// thousands of websockets fit; it returns the limit in force.
func raiseFileLimit() uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	return l.Cur
}
