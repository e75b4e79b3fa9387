package netcork

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// pair returns a corkable server side and the client side of a loopback
// TCP connection.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := Listener{Listener: ln}.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server := (<-accepted).(*Conn)
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}

func TestCorkedWritesLeaveTogetherAndInOrder(t *testing.T) {
	server, client := pair(t)
	server.Cork()
	for _, s := range []string{"one ", "two ", "three"} {
		if _, err := server.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing has left while corked.
	client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := client.Read(make([]byte, 64)); n != 0 || err == nil {
		t.Fatalf("read %d bytes while corked (err %v)", n, err)
	}
	if err := server.Uncork(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len("one two three"))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "one two three" {
		t.Fatalf("read %q, %v", got, err)
	}
	// Uncorked, a write leaves at once.
	if _, err := server.Write([]byte("four")); err != nil {
		t.Fatal(err)
	}
	got = make([]byte, 4)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "four" {
		t.Fatalf("read %q, %v", got, err)
	}
}

func TestCorkedConnWritesAnywayPastTheLimit(t *testing.T) {
	server, client := pair(t)
	server.Cork()
	big := strings.Repeat("x", maxHeld)
	go func() {
		server.Write([]byte("a"))
		server.Write([]byte(big)) // over the limit: "a" and this leave now
	}()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 1+len(big))
	if _, err := io.ReadFull(client, got); err != nil || got[0] != 'a' {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
}

func TestConcurrentWritersKeepEachWriteWhole(t *testing.T) {
	server, client := pair(t)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := []byte(strings.Repeat(string(rune('a'+w)), 16))
			for i := range each {
				if i%10 == 0 {
					server.Cork()
				}
				server.Write(msg)
				if i%10 == 9 {
					server.Uncork(time.Now().Add(time.Second))
				}
			}
		}()
	}
	go func() { wg.Wait(); server.Uncork(time.Time{}) }()
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, writers*each*16)
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(got); i += 16 {
		if strings.Count(string(got[i:i+16]), string(got[i])) != 16 {
			t.Fatalf("write at %d was interleaved: %q", i, got[i:i+16])
		}
	}
}

func TestFromContextFindsTheConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	found := make(chan bool, 1)
	srv := &http.Server{ConnContext: ConnContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		found <- FromContext(r.Context()) != nil
	})}
	go srv.Serve(Listener{Listener: ln})
	defer srv.Shutdown(context.Background())
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !<-found {
		t.Fatal("the handler did not find its corkable connection")
	}
}
