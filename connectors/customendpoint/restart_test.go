package customendpoint

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// staleConns is a client dialer whose connections can all go stale at
// once, as kept-alive connections do when the service behind them
// restarts: the next request on one is lost and the read fails.
type staleConns struct {
	mu    sync.Mutex
	conns []*staleConn
}

type staleConn struct {
	net.Conn
	mu   sync.Mutex
	dead bool
}

func (c *staleConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	dead := c.dead
	c.mu.Unlock()
	if dead {
		// The bytes leave, the restarted service never answers them.
		c.Conn.Close()
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (s *staleConns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	sc := &staleConn{Conn: c}
	s.mu.Lock()
	s.conns = append(s.conns, sc)
	s.mu.Unlock()
	return sc, nil
}

func (s *staleConns) restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.mu.Lock()
		c.dead = true
		c.mu.Unlock()
	}
}

// TestRestartedEndpointRecreatesAtOnce (issue 15, point 8): the endpoint
// restarts, losing its connections and its conversations. The next
// message fails on the dead kept-alive connection, is sent again at once
// on a new one, gets 404 and re-creates the conversation: no 5 s retry
// pause first.
func TestRestartedEndpointRecreatesAtOnce(t *testing.T) {
	f := newFake(t, signer.JWKS())
	sc := &staleConns{}
	hc := &http.Client{Transport: &http.Transport{DialContext: sc.dial}}
	t.Cleanup(hc.CloseIdleConnections)
	b := newTestBot(t, f, func(_ map[string]any, env *botrelay.BotEnv) { env.HTTPClient = hc })
	b.pauses = DefaultRetryPauses
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r1, err := b.Converse(ctx, turn(botrelay.TurnText, "c-restart", "one"))
	if err != nil {
		t.Fatal(err)
	}
	sc.restart()
	f.forget("c-restart")
	t2 := turn(botrelay.TurnText, "c-restart", "two")
	t2.VendorState = r1.VendorState
	start := time.Now()
	r2, err := b.Converse(ctx, t2)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(r2.Items) == 0 || r2.Items[0].Message.Text != "echo two" {
		t.Fatalf("reply = %+v", r2)
	}
	if took >= DefaultRetryPauses[0] {
		t.Fatalf("the message after the restart took %v: it waited the retry pause", took)
	}
	want := []string{
		"PUT /environments/draft/conversations/c-restart 204",
		"POST /environments/draft/conversations/c-restart/events 200",
		"POST /environments/draft/conversations/c-restart/events 404",
		"PUT /environments/draft/conversations/c-restart 204",
		"POST /environments/draft/conversations/c-restart/events 200",
	}
	got := f.summary()
	if len(got) != len(want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("calls %v, want %v", got, want)
		}
	}
}
