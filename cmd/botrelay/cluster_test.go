package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
	"github.com/botrelay/botrelay/sqlstore"
)

// The cluster suite (issue 17): three `botrelay serve` processes on one
// PostgreSQL database, ten bots, a hundred consumers spread over the three
// nodes and a human agent; then a SIGKILL of the node that routes the hub,
// a SIGSTOP past the lease of another, and a rolling restart of all three,
// each under load. Every consumer message the hub acknowledged must be
// answered exactly once ("got X", a one-second pause, "echo X": the pause
// keeps turns in flight when the signals land), read from the database.

const clusterScript = `
function lambda(input, callback) {
  var p = input.payload, ev = (p.event && p.event.name) || "";
  if (ev) return callback(null, {messages: ["hello"]});
  var tag = (p.message || "").trim();
  callback(null, {messages: ["got " + tag, {delay: 1}, "echo " + tag]});
}
`

type clusterNode struct {
	id, addr, data string
	p              *proc
}

func (n *clusterNode) base() string { return "http://" + n.addr }

type testCluster struct {
	t     *testing.T
	past  []*clusterNode // every process that ran, for the logs
	began time.Time
	env   []string
	dsn   string
	nodes []*clusterNode
	store *sqlstore.Store
}

// freeAddrs returns n loopback addresses with free ports.
func freeAddrs(t *testing.T, n int) []string {
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	n := c.nodes[i]
	c.past = append(c.past, &clusterNode{id: n.id})
	defer func() { c.past[len(c.past)-1].p = n.p }()
	n.p = start(c.t, c.env, "serve", "--addr", n.addr, "--data", n.data, "--database", c.dsn,
		"--node-id", n.id, "--advertise", n.base(), "--log-format", "json")
	n.p.waitListening(c.t)
	testrig.Eventually(c.t, 20*time.Second, n.id+" ready", func() bool {
		code, _ := tryGet(n.base() + "/readyz")
		return code == 200
	})
}

func tryGet(u string) (int, string) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

type clusterStatusJSON struct {
	Router *struct {
		Node string `json:"node"`
	} `json:"router"`
	Nodes []struct {
		ID    string `json:"id"`
		Alive bool   `json:"alive"`
		Bots  []struct {
			ID string `json:"id"`
		} `json:"bots"`
	} `json:"nodes"`
}

// placement returns the bots each live node runs, and the router.
func placement(api *chaosAPI) (map[string][]string, string) {
	var st clusterStatusJSON
	api.must("GET", "/api/v1/cluster", nil, &st, 200)
	out := map[string][]string{}
	for _, n := range st.Nodes {
		if !n.Alive {
			continue
		}
		for _, b := range n.Bots {
			out[n.ID] = append(out[n.ID], b.ID)
		}
	}
	router := ""
	if st.Router != nil {
		router = st.Router.Node
	}
	return out, router
}

// allOnline reports whether every bot is placed on a live node other than
// skip and ONLINE.
func allOnline(api *chaosAPI, bots []string, skip string) bool {
	placed, _ := placement(api)
	on := map[string]bool{}
	for node, ids := range placed {
		if node == skip {
			continue
		}
		for _, id := range ids {
			on[id] = true
		}
	}
	var list []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	api.must("GET", "/api/v1/bots", nil, &list, 200)
	state := map[string]string{}
	for _, b := range list {
		state[b.ID] = b.State
	}
	for _, id := range bots {
		if !on[id] || state[id] != "ONLINE" {
			return false
		}
	}
	return true
}

// clConsumer is a consumer that survives its node: requests fail instead
// of ending the test, and it reconnects to another node with its token.
type clConsumer struct {
	token, conv string

	mu      sync.Mutex
	conn    *websocket.Conn
	next    int
	waiting map[string]chan clResp
	acked   []string // texts the hub acknowledged
}

type clResp struct {
	code int
	body json.RawMessage
}

func newClConsumer(t *testing.T, base string) *clConsumer {
	resp, err := http.Post(base+"/api/account/1000/consumer/token", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	c := &clConsumer{token: tok.Token}
	if err := c.dial(base); err != nil {
		t.Fatal(err)
	}
	r := c.request("cm.ConsumerRequestConversation", map[string]any{"channelType": "MESSAGING", "skill": "cl"})
	var body struct {
		ConversationID string `json:"conversationId"`
	}
	json.Unmarshal(r.body, &body)
	if r.code != 200 || body.ConversationID == "" {
		t.Fatalf("open a conversation: %d %s", r.code, r.body)
	}
	c.conv = body.ConversationID
	return c
}

func (c *clConsumer) dial(base string) error {
	ws := "ws" + strings.TrimPrefix(base, "http") + "/ws_api/account/1000/messaging/consumer?v=3&token=" + c.token
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, ws, nil)
	if err != nil {
		return err
	}
	conn.SetReadLimit(4 << 20)
	waiting := map[string]chan clResp{}
	c.mu.Lock()
	if c.conn != nil {
		c.conn.CloseNow()
	}
	c.conn, c.waiting = conn, waiting
	c.mu.Unlock()
	go func() {
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				c.mu.Lock()
				for id, ch := range waiting {
					close(ch)
					delete(waiting, id)
				}
				c.mu.Unlock()
				return
			}
			var f struct {
				Kind  string          `json:"kind"`
				ReqID string          `json:"reqId"`
				Code  int             `json:"code"`
				Body  json.RawMessage `json:"body"`
			}
			if json.Unmarshal(data, &f) != nil || f.Kind != "resp" {
				continue
			}
			c.mu.Lock()
			ch := waiting[f.ReqID]
			delete(waiting, f.ReqID)
			c.mu.Unlock()
			if ch != nil {
				ch <- clResp{f.Code, f.Body}
			}
		}
	}()
	return nil
}

// request sends one request and returns its response; code 0 when the
// connection failed before an answer.
func (c *clConsumer) request(typ string, body any) clResp {
	c.mu.Lock()
	c.next++
	id := strconv.Itoa(c.next)
	ch := make(chan clResp, 1)
	c.waiting[id] = ch
	conn := c.conn
	c.mu.Unlock()
	raw, _ := json.Marshal(body)
	data, _ := json.Marshal(map[string]any{"kind": "req", "id": id, "type": typ, "body": json.RawMessage(raw)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, data); err != nil {
		return clResp{}
	}
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return clResp{}
	}
}

// say publishes text; true when the hub acknowledged it.
func (c *clConsumer) say(text string) bool {
	r := c.request("ms.PublishEvent", map[string]any{"dialogId": c.conv,
		"event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": text}})
	if r.code != 200 {
		return false
	}
	c.mu.Lock()
	c.acked = append(c.acked, text)
	c.mu.Unlock()
	return true
}

// sayAnywhere says text, reconnecting to the live nodes in turn until the
// hub acknowledges it or the deadline passes; each attempt has a text of
// its own ("text", "text r1", …) so that an attempt the hub stored but
// could not acknowledge is told apart.
func (c *clConsumer) sayAnywhere(text string, bases func() []string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		t := text
		if attempt > 0 {
			t = fmt.Sprintf("%s r%d", text, attempt)
		}
		if c.say(t) {
			return true
		}
		time.Sleep(200 * time.Millisecond)
		for _, b := range bases() {
			if c.dial(b) == nil {
				break
			}
		}
	}
	return false
}

func (c *clConsumer) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.CloseNow()
	}
}

// transcriptProblems reads every conversation from the database: each
// consumer message must be answered exactly once ("got X" then "echo X"),
// and every message the hub acknowledged must be stored once. It returns
// the problems and how many messages still wait for their answer.
func (c *testCluster) transcriptProblems(convs []*clConsumer) (problems []string, pending int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, cv := range convs {
		evs, err := c.store.Events(ctx, botrelay.ConversationID(cv.conv), botrelay.DialogID(cv.conv), 0, 0)
		if err != nil {
			c.t.Fatalf("read %s: %v", cv.conv, err)
		}
		var texts, asked []string
		for _, e := range evs {
			txt := eventText(e.Event)
			if txt == "" {
				continue
			}
			texts = append(texts, txt)
			if e.OriginatorRole == botrelay.ParticipantConsumer {
				asked = append(asked, txt)
			}
		}
		for _, q := range asked {
			got, echo := count(texts, "got "+q), count(texts, "echo "+q)
			switch {
			case echo == 0 || got == 0:
				pending++
				problems = append(problems, fmt.Sprintf("%s: %q unanswered (got %d, echo %d)", cv.conv, q, got, echo))
			case echo > 1 || got > 1:
				problems = append(problems, fmt.Sprintf("%s: %q answered twice (got %d, echo %d)\n%s", cv.conv, q, got, echo, dumpEvents(cv.conv, evs)))
			}
		}
		cv.mu.Lock()
		for _, a := range cv.acked {
			if count(asked, a) != 1 {
				problems = append(problems, fmt.Sprintf("%s: acknowledged %q stored %d times", cv.conv, a, count(asked, a)))
			}
		}
		cv.mu.Unlock()
	}
	return problems, pending
}

// settleAnswers waits until no message waits for its answer (at most d),
// then fails on any problem of the transcripts.
func (c *testCluster) settleAnswers(convs []*clConsumer, d time.Duration, what string) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		problems, pending := c.transcriptProblems(convs)
		if pending == 0 {
			if len(problems) > 0 {
				c.t.Fatalf("%s: %d problems:\n%s\n%s", what, len(problems), strings.Join(problems, "\n"), c.logsAbout(problems))
			}
			return
		}
		if time.Now().After(deadline) {
			if len(problems) > 20 {
				problems = problems[:20]
			}
			c.t.Fatalf("%s: %d messages unanswered after %v:\n%s\nlogs:\n%s", what, pending, d, strings.Join(problems, "\n"), c.logTails())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// logsAbout returns every log line of every process that names a
// conversation of the problems.
func (c *testCluster) logsAbout(problems []string) string {
	if dir := os.Getenv("BOTRELAY_TEST_ARTIFACTS"); dir != "" {
		for i, n := range c.past {
			if n.p != nil {
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("cluster-%02d-%s.log", i, n.id)), []byte(n.p.stderr.String()), 0o644)
			}
		}
	}
	var b strings.Builder
	for _, pr := range problems {
		conv, _, _ := strings.Cut(pr, ":")
		for _, n := range c.past {
			if n.p == nil {
				continue
			}
			for _, l := range strings.Split(n.p.stderr.String(), "\n") {
				if strings.Contains(l, conv) {
					fmt.Fprintf(&b, "%s(pid %d): %s\n", n.id, n.p.cmd.Process.Pid, l)
				}
			}
		}
	}
	return b.String()
}

func (c *testCluster) logTails() string {
	var b strings.Builder
	for _, n := range c.nodes {
		if n.p == nil {
			continue
		}
		s := n.p.stderr.String()
		if len(s) > 6000 {
			s = s[len(s)-6000:]
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", n.id, s)
	}
	return b.String()
}

// live returns the bases of the running nodes but skip.
func (c *testCluster) live(skip ...string) []string {
	var out []string
	for _, n := range c.nodes {
		dead := n.p == nil
		for _, s := range skip {
			dead = dead || n.id == s
		}
		if !dead {
			out = append(out, n.base())
		}
	}
	return out
}

func (c *testCluster) node(id string) *clusterNode {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

func (c *testCluster) index(id string) int {
	for i, n := range c.nodes {
		if n.id == id {
			return i
		}
	}
	c.t.Fatalf("no node %s", id)
	return -1
}

// wave has every consumer say "c<i> <k>" at once and runs during once the
// first is acknowledged; consumers whose node is gone reconnect to the
// live nodes but skip().
func (c *testCluster) wave(convs []*clConsumer, k string, during func(), skip func() []string) {
	var wg sync.WaitGroup
	started := make(chan struct{})
	var once sync.Once
	for i, cv := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !cv.sayAnywhere(fmt.Sprintf("c%d %s", i, k), func() []string { return c.live(skip()...) }, 30*time.Second) {
				c.t.Errorf("consumer %d could not send %s to any node within 30s", i, k)
			}
			once.Do(func() { close(started) })
		}()
	}
	if during != nil {
		<-started
		during()
	}
	wg.Wait()
}

// signal sends sig to node n, and for SIGKILL waits for its end.
func (c *testCluster) signal(n *clusterNode, sig syscall.Signal) {
	if err := n.p.cmd.Process.Signal(sig); err != nil {
		c.t.Fatal(err)
	}
	if sig == syscall.SIGKILL {
		n.p.exitCode(c.t, 10*time.Second)
		n.p = nil
	}
}

func TestClusterThreeNodes(t *testing.T) {
	pg := os.Getenv("BOTRELAY_TEST_POSTGRES")
	if pg == "" {
		t.Skip("BOTRELAY_TEST_POSTGRES is not set; .ci/run sets it")
	}
	if testing.Short() {
		t.Skip("the cluster suite runs three servers under load; skipped with -short")
	}
	// Like the chaos suite, it runs in a copy of the test binary built
	// without the race detector; the cluster's parts run under -race in
	// their own tests.
	if runWithoutRace(t, "TestClusterThreeNodes") {
		return
	}
	c := newTestCluster(t, pg)
	t.Cleanup(func() { c.logsAbout(nil) }) // the logs, into BOTRELAY_TEST_ARTIFACTS
	api := chaosLogin(t, c.nodes[1].base())
	bots := clusterPlacesTenBots(t, c, api)
	convs, hconv, agent, human := clusterLoad(t, c, api)
	api = clusterKillRouter(t, c, convs, bots, hconv, agent, human)
	clusterPauseNode(t, c, api, convs, bots)
	clusterRollingRestart(t, c, convs, bots)
	for _, cv := range convs {
		cv.close()
	}
}

func newTestCluster(t *testing.T, pg string) *testCluster {
	key := make([]byte, 32)
	rand.Read(key)
	c := &testCluster{t: t, dsn: postgresSchema(t, pg), began: time.Now(),
		env: append([]string{"BOTRELAY_ADMIN_PASSWORD=" + chaosPassword, "BOTRELAY_MASTER_KEY=" + hex.EncodeToString(key)}, noConsumerLimits...)}
	for i, addr := range freeAddrs(t, 3) {
		c.nodes = append(c.nodes, &clusterNode{id: fmt.Sprintf("n%d", i+1), addr: addr, data: filepath.Join(t.TempDir(), "data")})
	}
	for i := range c.nodes {
		c.start(i)
	}
	store, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.Postgres, DSN: c.dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c.store = store
	c.step("three nodes ready")
	return c
}

func (c *testCluster) step(format string, args ...any) {
	c.t.Logf("%6.1fs  %s", time.Since(c.began).Seconds(), fmt.Sprintf(format, args...))
}

// clusterPlacesTenBots: acceptance 1, ten bots three or four a node, as
// `botrelay cluster status` shows.
func clusterPlacesTenBots(t *testing.T, c *testCluster, api *chaosAPI) []string {
	bots := setupClusterBots(t, api, 10)
	var last map[string][]string
	defer func() {
		if t.Failed() {
			for _, id := range bots {
				var st map[string]any
				api.must("GET", "/api/v1/bots/"+id+"/status", nil, &st, 200)
				t.Logf("bot %s: %v", id, st)
			}
			t.Logf("last placement: %v\n%s", last, c.logTails())
		}
	}()
	testrig.Eventually(t, 60*time.Second, "ten bots ONLINE, three or four a node", func() bool {
		placed, _ := placement(api)
		last = placed
		for _, n := range c.nodes {
			if k := len(placed[n.id]); k < 3 || k > 4 {
				return false
			}
		}
		return allOnline(api, bots, "")
	})
	status := start(t, []string{"BOTRELAY_TOKEN=" + api.token, "BOTRELAY_TOKEN_FILE=" + filepath.Join(t.TempDir(), "tok")},
		"cluster", "status", "--server", api.base)
	if code := status.exitCode(t, 20*time.Second); code != 0 {
		t.Fatalf("botrelay cluster status: exit %d: %s", code, status.stderr)
	}
	out := status.stdout.String()
	t.Logf("botrelay cluster status:\n%s", out)
	for _, n := range c.nodes {
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, n.id+" ") {
				line = l
			}
		}
		f := strings.Fields(line)
		if len(f) < 5 || f[1] != "alive" || (f[4] != "3" && f[4] != "4") {
			t.Fatalf("cluster status line of %s = %q, want alive with 3 or 4 bots", n.id, line)
		}
	}
	c.step("ten bots placed and ONLINE")
	return bots
}

// clusterLoad opens a hundred conversations over the three nodes and one
// between a consumer and a human agent on the router's node.
func clusterLoad(t *testing.T, c *testCluster, api *chaosAPI) ([]*clConsumer, string, *testrig.Agent, *testrig.Consumer) {
	_, router := placement(api)
	createHuman(t, api, "alex")
	agent := testrig.NewAgent(t, c.node(router).base(), "1000", "alex", chaosPassword)
	human := testrig.NewConsumer(t, c.nodes[(c.index(router)+1)%3].base(), "1000")
	hconv := human.Open("human")
	agent.AcceptRing(hconv, 30*time.Second)
	agent.Say(hconv, "alex here, before")
	human.WaitTexts(20*time.Second, "alex here, before")

	convs := make([]*clConsumer, 100)
	parallel(len(convs), 20, func(i int) { convs[i] = newClConsumer(t, c.nodes[i%3].base()) })
	c.wave(convs, "m1", nil, func() []string { return nil })
	c.settleAnswers(convs, 60*time.Second, "first messages")
	c.step("100 conversations answered; the agent talks with its consumer")
	return convs, hconv, agent, human
}

// clusterKillRouter: acceptance 2, SIGKILL of the router under load.
func clusterKillRouter(t *testing.T, c *testCluster, convs []*clConsumer, bots []string, hconv string, agent *testrig.Agent, human *testrig.Consumer) *chaosAPI {
	api := chaosLogin(t, c.nodes[0].base())
	_, router := placement(api)
	var killedAt time.Time
	skip := func() []string { return []string{router} }
	c.wave(convs, "m2", func() {
		time.Sleep(300 * time.Millisecond)
		killedAt = time.Now()
		c.signal(c.node(router), syscall.SIGKILL)
	}, skip)
	other := c.live()[0]
	api = chaosLogin(t, other)
	var routedIn time.Duration
	testrig.Eventually(t, 30*time.Second, "the dead node's bots ONLINE elsewhere", func() bool {
		if routedIn == 0 {
			if _, r := placement(api); r != "" && r != router {
				routedIn = time.Since(killedAt)
			}
		}
		return allOnline(api, bots, router)
	})
	movedIn := time.Since(killedAt)
	c.step("SIGKILL of the router %s: its bots ONLINE elsewhere in %v, routing moved in %v", router, movedIn.Round(time.Millisecond), routedIn.Round(time.Millisecond))
	if movedIn > 5*time.Second || routedIn > 5*time.Second {
		t.Errorf("after the kill: bots back in %v, routing in %v; want both within 5s", movedIn, routedIn)
	}
	c.wave(convs, "m3", nil, skip)
	c.settleAnswers(convs, 60*time.Second, "after the kill")
	c.step("every acknowledged message answered exactly once after the kill")

	// The agent reconnects to another node with the same session.
	agent.Close()
	human.Close()
	agent2 := testrig.ResumeAgent(t, other, "1000", agent.Bearer, agent.UserID, agent.UserPid)
	agent2.Say(hconv, "alex here, after")
	live := c.live()
	human2 := testrig.ResumeConsumer(t, live[len(live)-1], "1000", human.Token, human.ID, hconv)
	human2.WaitTexts(20*time.Second, "alex here, before", "alex here, after")
	human2.Say("thanks alex")
	testrig.Eventually(t, 20*time.Second, "the agent sees the consumer's message", func() bool {
		return count(agent2.History(hconv), "consumer: thanks alex") == 1
	})
	agent2.Close()
	human2.Close()
	c.step("the agent went on from another node with the same session")
	c.start(c.index(router))
	testrig.Eventually(t, 60*time.Second, "every bot ONLINE after the restart", func() bool { return allOnline(api, bots, "") })
	return api
}

// clusterPauseNode: acceptance 3, SIGSTOP past the lease, then SIGCONT.
func clusterPauseNode(t *testing.T, c *testCluster, api *chaosAPI, convs []*clConsumer, bots []string) {
	placed, router := placement(api)
	var victim *clusterNode
	for _, n := range c.nodes {
		if n.id != router && len(placed[n.id]) > 0 {
			victim = n
		}
	}
	if victim == nil {
		t.Fatal("no node but the router runs bots")
	}
	api = chaosLogin(t, c.live(victim.id)[0])
	defer func() {
		if t.Failed() {
			placed, router := placement(api)
			t.Logf("victim %s; router %s; placement %v", victim.id, router, placed)
			for _, id := range bots {
				var st map[string]any
				api.must("GET", "/api/v1/bots/"+id+"/status", nil, &st, 200)
				t.Logf("bot %s: %v %v", id, st["state"], st["history"])
			}
			t.Logf("%s", c.logTails())
		}
	}()
	c.wave(convs, "m4", func() {
		time.Sleep(300 * time.Millisecond)
		c.signal(victim, syscall.SIGSTOP)
		testrig.Eventually(t, 30*time.Second, "the paused node's bots ONLINE elsewhere", func() bool {
			return allOnline(api, bots, victim.id)
		})
		time.Sleep(time.Second)
		c.signal(victim, syscall.SIGCONT)
	}, func() []string { return []string{victim.id} })
	c.settleAnswers(convs, 60*time.Second, "after SIGSTOP and SIGCONT")
	testrig.Eventually(t, 20*time.Second, "the woken node says it lost its bots", func() bool {
		return strings.Contains(victim.p.stderr.String(), "lost a lease")
	})
	testrig.Eventually(t, 60*time.Second, "every bot ONLINE after the pause", func() bool { return allOnline(api, bots, "") })
	c.step("SIGSTOP of %s past its lease: no duplicate; it stopped the bots it lost", victim.id)
}

// clusterRollingRestart: acceptance 4, each node in turn stopped and
// started again while messages keep coming.
func clusterRollingRestart(t *testing.T, c *testCluster, convs []*clConsumer, bots []string) {
	stopLoad := make(chan struct{})
	loadDone := make(chan struct{})
	var sent atomic.Int64
	var down atomic.Value
	down.Store("")
	go func() {
		defer close(loadDone)
		for k := 0; ; k++ {
			select {
			case <-stopLoad:
				return
			default:
			}
			i := k % len(convs)
			convs[i].sayAnywhere(fmt.Sprintf("c%d m5-%d", i, k), func() []string { return c.live(down.Load().(string)) }, 30*time.Second)
			sent.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for i, n := range c.nodes {
		down.Store(n.id)
		n.p.stop(t)
		n.p = nil
		c.start(i)
		down.Store("")
		api := chaosLogin(t, c.live()[0])
		testrig.Eventually(t, 60*time.Second, "every bot ONLINE after restarting "+n.id, func() bool {
			return allOnline(api, bots, "")
		})
		c.step("restarted %s", n.id)
	}
	close(stopLoad)
	<-loadDone
	c.settleAnswers(convs, 60*time.Second, "after the rolling restart")
	c.step("rolling restart: %d messages during it, none lost or doubled, every bot ONLINE", sent.Load())
}

// createHuman creates a human agent on skill human.
func createHuman(t *testing.T, api *chaosAPI, login string) botrelay.UserID {
	var skills []struct {
		ID   botrelay.SkillID `json:"id"`
		Name string           `json:"name"`
	}
	api.must("GET", "/api/v1/skills", nil, &skills, 200)
	var human botrelay.SkillID
	for _, s := range skills {
		if s.Name == "human" {
			human = s.ID
		}
	}
	var out struct {
		User struct {
			ID botrelay.UserID `json:"id"`
		} `json:"user"`
	}
	api.must("POST", "/api/v1/users", map[string]any{"type": "HUMAN", "loginName": login, "password": chaosPassword,
		"profileId": profileID(api, "Agent"), "messagingSlots": 10, "skillIds": []botrelay.SkillID{human}}, &out, 201)
	return out.User.ID
}

func profileID(api *chaosAPI, name string) int64 {
	var profiles []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	api.must("GET", "/api/v1/profiles", nil, &profiles, 200)
	for _, p := range profiles {
		if p.Name == name {
			return p.ID
		}
	}
	return 0
}

// setupClusterBots stops the demo bot and creates n echo bots on skill cl,
// started; it returns their ids.
func setupClusterBots(t *testing.T, api *chaosAPI, n int) []string {
	var existing []struct {
		ID string `json:"id"`
	}
	api.must("GET", "/api/v1/bots", nil, &existing, 200)
	for _, b := range existing {
		api.must("POST", "/api/v1/bots/"+b.ID+"/stop", nil, nil, 200)
	}
	var sk struct {
		ID botrelay.SkillID `json:"id"`
	}
	api.must("POST", "/api/v1/skills", map[string]any{"name": "cl"}, &sk, 201)
	agentProfile := profileID(api, "Agent")
	var ids []string
	for i := range n {
		var u struct {
			User struct {
				ID botrelay.UserID `json:"id"`
			} `json:"user"`
		}
		api.must("POST", "/api/v1/users", map[string]any{"type": "BOT", "loginName": fmt.Sprintf("clbot%02d", i),
			"profileId": agentProfile, "messagingSlots": 1000, "skillIds": []botrelay.SkillID{sk.ID}}, &u, 201)
		var b struct {
			ID string `json:"id"`
		}
		api.must("POST", "/api/v1/bots", map[string]any{"name": fmt.Sprintf("clbot%02d", i), "vendor": "function", "type": "AGENT",
			"userId": u.User.ID, "settings": map[string]any{"vendor": map[string]any{"code": clusterScript}}}, &b, 201)
		api.must("POST", "/api/v1/bots/"+b.ID+"/start", nil, nil, 202)
		ids = append(ids, b.ID)
	}
	return ids
}
