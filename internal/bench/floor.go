package bench

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/botrelay/botrelay/ums"
)

// The floor is the least a relay between a consumer and a bot can do on
// this machine: a consumer websocket and an agent websocket speaking the
// same frames as the hub (decoded and encoded with package ums), an echo
// agent on loopback, and nothing stored, no routing, no vendor, no state
// but a map of conversations. The bench runs it in its own process, like the
// server, with the same load, so each figure is also a ratio to it.

// floor is the floor server.
type floor struct {
	mu     sync.Mutex
	agents []*floorConn
	convs  map[string]*floorConv
	nextID atomic.Int64
	rr     int
}

type floorConv struct {
	consumer *floorConn
	agent    *floorConn
	seq      atomic.Int64
}

type floorConn struct {
	ws   *websocket.Conn
	out  chan []byte
	done chan struct{}
	once sync.Once
}

func (c *floorConn) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	select {
	case c.out <- b:
	case <-c.done:
	}
}

func (c *floorConn) close() { c.once.Do(func() { close(c.done) }) }

func (c *floorConn) writeLoop(ctx context.Context) {
	for {
		select {
		case b := <-c.out:
			wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := c.ws.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				c.close()
				return
			}
		case <-c.done:
			return
		}
	}
}

func (f *floor) accept(w http.ResponseWriter, r *http.Request) *floorConn {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil
	}
	ws.SetReadLimit(ums.MaxFrameSize)
	return &floorConn{ws: ws, out: make(chan []byte, 512), done: make(chan struct{})}
}

func (f *floor) serve(ctx context.Context, c *floorConn, handle func(*ums.Request)) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go c.writeLoop(ctx)
	defer c.close()
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		req, err := ums.Decode(data)
		if err != nil {
			var ue *ums.Error
			if errors.As(err, &ue) {
				c.send(ue.Response())
			}
			continue
		}
		handle(req)
	}
}

func (f *floor) consumer(w http.ResponseWriter, r *http.Request) {
	c := f.accept(w, r)
	if c == nil {
		return
	}
	var mine []string
	defer func() {
		f.mu.Lock()
		for _, id := range mine {
			delete(f.convs, id)
		}
		f.mu.Unlock()
	}()
	consumerID := "floor-consumer-" + strconv.FormatInt(f.nextID.Add(1), 10)
	f.serve(r.Context(), c, func(req *ums.Request) {
		switch ums.Canonical(req.Type) {
		case "cm.ConsumerRequestConversation":
			id := "floor-" + strconv.FormatInt(f.nextID.Add(1), 10)
			f.mu.Lock()
			if len(f.agents) == 0 {
				f.mu.Unlock()
				c.send(ums.Errorf(http.StatusServiceUnavailable, "unavailable", "no agent").Response())
				return
			}
			conv := &floorConv{consumer: c, agent: f.agents[f.rr%len(f.agents)]}
			f.rr++
			f.convs[id] = conv
			f.mu.Unlock()
			mine = append(mine, id)
			c.send(ums.OK(req, map[string]string{"conversationId": id}))
		case "cqm.SubscribeExConversations":
			c.send(ums.OK(req, map[string]string{"subscriptionId": "floor"}))
			for _, id := range mine {
				c.send(ums.NewNotification("cqm.ExConversationChangeNotification", ums.ConversationChangeBody{
					SubscriptionID: "floor", Changes: []ums.ConversationChange{{Type: "UPSERT", Result: ums.ConversationResult{
						ConvID: id, ConversationDetails: ums.ConversationDetails{ConvID: id, State: "OPEN",
							Participants: map[string][]string{"CONSUMER": {consumerID}, "ASSIGNED_AGENT": {"floor-agent"}}}}}}}))
			}
		case "ms.SubscribeMessagingEvents":
			c.send(ums.OK(req, nil))
		case "ms.PublishEvent":
			f.publish(c, req, ums.OriginatorMetadata{ID: consumerID, Role: "CONSUMER"}, true)
		default:
			c.send(ums.OK(req, nil))
		}
	})
}

func (f *floor) agent(w http.ResponseWriter, r *http.Request) {
	c := f.accept(w, r)
	if c == nil {
		return
	}
	f.mu.Lock()
	f.agents = append(f.agents, c)
	f.mu.Unlock()
	f.serve(r.Context(), c, func(req *ums.Request) {
		if ums.Canonical(req.Type) == "ms.PublishEvent" {
			f.publish(c, req, ums.OriginatorMetadata{ID: "floor-agent", Role: "ASSIGNED_AGENT", UserType: "BOT"}, false)
			return
		}
		c.send(ums.OK(req, nil))
	})
}

// publish answers a PublishEvent with the next sequence and delivers the
// event: a consumer's to itself (the echo every client gets) and to the
// conversation's agent, an agent's to the consumer.
func (f *floor) publish(from *floorConn, req *ums.Request, who ums.OriginatorMetadata, fromConsumer bool) {
	var body ums.PublishEventBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		from.send(ums.Errorf(http.StatusBadRequest, "invalid", "bad body").Response())
		return
	}
	f.mu.Lock()
	conv := f.convs[body.DialogID]
	f.mu.Unlock()
	if conv == nil {
		from.send(ums.Errorf(http.StatusNotFound, "not_found", "no such conversation").Response())
		return
	}
	seq := conv.seq.Add(1)
	from.send(ums.OK(req, map[string]int64{"sequence": seq}))
	ev := ums.MessagingEvent{Sequence: seq, ConversationID: body.DialogID, DialogID: body.DialogID,
		ServerTimestamp: time.Now().UnixMilli(), OriginatorID: who.ID, OriginatorMetadata: who, Event: body.Event}
	n := ums.NewNotification("ms.MessagingEventNotification", ums.MessagingEventBody{Changes: []ums.MessagingEvent{ev}})
	conv.consumer.send(n)
	if fromConsumer {
		conv.agent.send(n)
	}
}

// echoAgent is the floor's bot: it answers each consumer text with the same
// text, in order.
func echoAgent(ctx context.Context, url string) (*wsClient, error) {
	var c *wsClient
	var err error
	c, err = dialWS(ctx, url, nil, func(typ string, body json.RawMessage) {
		var b ums.MessagingEventBody
		if json.Unmarshal(body, &b) != nil {
			return
		}
		for _, ev := range b.Changes {
			if ev.OriginatorMetadata.Role != "CONSUMER" {
				continue
			}
			var e struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			}
			if json.Unmarshal(ev.Event, &e) != nil || e.Type != "ContentEvent" || e.Message == "" {
				continue
			}
			_ = c.send(ctx, "ms.PublishEvent", ums.PublishEventBody{DialogID: ev.DialogID, ConversationID: ev.ConversationID,
				Event: textEvent(e.Message)}, nil)
		}
	})
	return c, err
}

func textEvent(text string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"type": "ContentEvent", "contentType": "text/plain", "message": text})
	return b
}

// RunFloor serves the floor on addr with the given number of echo agents
// (one per started bot of the run it is compared with) until ctx ends.
// GET /healthz answers 200 once every agent is connected.
func RunFloor(ctx context.Context, addr string, agents int) error {
	f := &floor{convs: map[string]*floorConv{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /floor/consumer", f.consumer)
	mux.HandleFunc("GET /floor/agent", f.agent)
	var ready atomic.Bool
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var clients []*wsClient
	for range max(agents, 1) {
		c, err := echoAgent(ctx, "ws://"+ln.Addr().String()+"/floor/agent")
		if err != nil {
			srv.Close()
			return err
		}
		clients = append(clients, c)
	}
	ready.Store(true)
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	for _, c := range clients {
		c.Close()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	srv.Close()
	return nil
}
