package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Cloned is a node restarted on a store whose idle conversations were
// replicated (--idle-clone): how long the store took to build, and what the
// restarted node costs with them.
type Cloned struct {
	// Conversations is how many idle conversations the store held open;
	// Templates of them were opened through the protocol, the rest are
	// their copies.
	Conversations int `json:"conversations"`
	Templates     int `json:"templates"`
	// MaxPerBot is the most open conversations one bot held.
	MaxPerBot int     `json:"maxPerBot"`
	BuildMs   float64 `json:"buildMs"`
	// ReadyMs is the time from the process start to /healthz 200; OnlineMs
	// to every bench bot ONLINE; LoadedMs to the hub holding every open
	// conversation; QuietMs to the server using under 5% of a core over a
	// second, once the bots were ONLINE and the hub loaded: every bot
	// resumed its conversations.
	ReadyMs  float64 `json:"readyMs"`
	OnlineMs float64 `json:"onlineMs"`
	LoadedMs float64 `json:"loadedMs"`
	QuietMs  float64 `json:"quietMs"`
	// RSSBaseBytes is the server's RSS with its bots and no conversation
	// (before the templates opened), RSSBytes after the restart once quiet,
	// after garbage collection; HeapBytes the Go heap in use then.
	RSSBaseBytes           int64   `json:"rssBaseBytes"`
	RSSBytes               int64   `json:"rssBytes"`
	RawRSSBytes            int64   `json:"rawRssBytes"`
	HeapBytes              int64   `json:"heapBytes"`
	RSSPerConversationByte float64 `json:"rssPerConversationBytes"`
	Goroutines             int64   `json:"goroutines"`
	// FailedHistoryReads counts the server's "read conversation history"
	// warnings after the restart (history reads that failed or timed out).
	FailedHistoryReads int `json:"failedHistoryReads"`
}

// cloneAndRestart stops the server, replicates its open conversations in
// its store to o.IdleClone, starts it again and records r.Cloned; it
// returns the memory sample of the restarted server, the live load's base.
func (s *server) cloneAndRestart(ctx context.Context, r *Report, ids []string, user, password string) (procSample, error) {
	o := s.o
	s.child.stop(60 * time.Second)
	s.child = nil
	db, postgres, err := s.openStore()
	if err != nil {
		return procSample{}, fmt.Errorf("clone: open the store: %w", err)
	}
	t0 := time.Now()
	res, err := cloneIdle(ctx, db, postgres, o.IdleClone, func(n int) {
		if n%100000 == 0 {
			o.logf("  %d clones (%.0f/s)", n, float64(n)/time.Since(t0).Seconds())
		}
	})
	db.Close()
	if err != nil {
		return procSample{}, err
	}
	if o.KeepData && s.pg == nil {
		// A copy to restart on again (e.g. another build, --server-exe).
		if err := copyFile(filepath.Join(s.data, "botrelay.db"), filepath.Join(s.data, "botrelay.db.cloned")); err != nil {
			return procSample{}, err
		}
	}
	o.logf("clone: %d open conversations (%d opened through the protocol, %d copies; at most %d on one bot) in %v",
		res.Templates+res.Clones, res.Templates, res.Clones, res.MaxPerBot, res.Took.Round(time.Millisecond))
	c := &Cloned{Conversations: res.Templates + res.Clones, Templates: res.Templates, MaxPerBot: res.MaxPerBot,
		BuildMs: ms(res.Took), RSSBaseBytes: r.Setup.ServerRSSBaseBytes}
	if res.MaxPerBot > o.MaxOpenPerBot {
		o.logf("clone: warning: a bot holds %d open conversations, above its cap %d (--max-open)", res.MaxPerBot, o.MaxOpenPerBot)
	}
	logPath := filepath.Join(s.data, "bench-server.log")
	var logFrom int64
	if fi, err := os.Stat(logPath); err == nil {
		logFrom = fi.Size()
	}
	d, err := s.start(ctx)
	if err != nil {
		return procSample{}, fmt.Errorf("start on the replicated store: %w", err)
	}
	start := time.Now().Add(-d)
	c.ReadyMs = ms(d)
	o.logf("restart with %d open conversations: /healthz 200 after %v", c.Conversations, d.Round(time.Millisecond))
	if err := s.waitResumed(ctx, c, start, ids, user, password); err != nil {
		return procSample{}, err
	}
	raw, after := s.sample(ctx)
	c.RawRSSBytes, c.RSSBytes = raw.RSS, after.RSS
	if m, err := scrape(ctx, s.metrics, s.base); err == nil {
		c.HeapBytes, c.Goroutines = int64(m["go_memstats_heap_inuse_bytes"]), int64(m["go_goroutines"])
	}
	c.FailedHistoryReads = countLog(logPath, logFrom, "read conversation history")
	c.RSSPerConversationByte = float64(c.RSSBytes-c.RSSBaseBytes) / float64(c.Conversations)
	o.logf("restarted: RSS %s (%.0f bytes per conversation), heap %s, %d goroutines", mib(c.RSSBytes), c.RSSPerConversationByte, mib(c.HeapBytes), c.Goroutines)
	r.Cloned = c
	return after, nil
}

// waitResumed waits for the restarted server's bots to be ONLINE, its hub
// to hold every open conversation and then for the server to go quiet.
func (s *server) waitResumed(ctx context.Context, c *Cloned, start time.Time, ids []string, user, password string) error {
	wait := 10*time.Minute + time.Duration(c.Conversations/1000)*time.Second
	a, err := login(ctx, s.base, user, password)
	if err != nil {
		return err
	}
	if err := a.waitOnline(ctx, ids, wait); err != nil {
		return fmt.Errorf("after the restart: %w", err)
	}
	c.OnlineMs = ms(time.Since(start))
	deadline := time.Now().Add(wait)
	for {
		m, err := scrape(ctx, s.metrics, s.base)
		if err == nil && int(m["botrelay_hub_open_conversations"]) >= c.Conversations {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the hub did not load %d open conversations within %v", c.Conversations, wait)
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	c.LoadedMs = ms(time.Since(start))
	prev, _ := sampleProc(s.child.pid())
	for time.Now().Before(deadline) {
		sleepCtx(ctx, time.Second)
		cur, err := sampleProc(s.child.pid())
		if err != nil {
			return err
		}
		busy := float64(cur.CPU-prev.CPU) / float64(cur.At.Sub(prev.At))
		if busy < 0.05 {
			c.QuietMs = ms(time.Since(start))
			s.o.logf("restarted: bots ONLINE after %.0f ms, hub loaded after %.0f ms, quiet after %.0f ms", c.OnlineMs, c.LoadedMs, c.QuietMs)
			return nil
		}
		prev = cur
	}
	return fmt.Errorf("the server did not go quiet within %v of its restart", wait)
}

// copyFile copies src to dst (mode 0600).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// countLog counts the lines of the file at path after offset from that
// hold needle.
func countLog(path string, from int64, needle string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return 0
	}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), needle) {
			n++
		}
	}
	return n
}

// writeCloned adds the replicated run's lines to the summary.
func writeCloned(w io.Writer, c *Cloned) {
	if c == nil {
		return
	}
	fmt.Fprintf(w, "restart   %d open idle conversations (%d opened through the protocol, the rest copied in the store in %.1f s; at most %d on one bot):\n",
		c.Conversations, c.Templates, c.BuildMs/1000, c.MaxPerBot)
	fmt.Fprintf(w, "          /healthz 200 after %.0f ms, bots ONLINE after %.0f ms, hub loaded after %.0f ms, quiet after %.0f ms\n",
		c.ReadyMs, c.OnlineMs, c.LoadedMs, c.QuietMs)
	fmt.Fprintf(w, "          %d failed history reads\n", c.FailedHistoryReads)
	fmt.Fprintf(w, "          RSS %s after GC (raw %s), base %s: %.0f bytes per conversation; Go heap %s; %d goroutines\n",
		mib(c.RSSBytes), mib(c.RawRSSBytes), mib(c.RSSBaseBytes), c.RSSPerConversationByte, mib(c.HeapBytes), c.Goroutines)
}
