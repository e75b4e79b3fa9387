// Package chatclient is the `botrelay chat` terminal consumer client. It talks
// to the hub's consumer messaging protocol like the web messaging page does:
// it gets a consumer token, opens the consumer websocket, asks for a
// conversation on a skill and prints what bots, agents and the hub say.
//
// Output is one line per message:
//
//	bot: <text>       a message from a bot user (originatorMetadata.userType "BOT")
//	agent: <text>     a message from any other non-consumer participant
//	system: <text>    transfers, agents joining, the conversation closing, errors
//
// Quick replies are appended to their message as " [quick replies: Yes | No]".
// Structured content is flattened to one line: text elements as they are,
// "[image: caption <url>]", "[button: title]", "[link: title <uri>]";
// vertical layouts join their elements with " / ", horizontal ones with " | ",
// carousels their cards with " || ". Hosted files print as "[file: caption]".
// The consumer's own messages are not echoed. When the conversation already
// has messages (a reused token continuing an open conversation), they are
// printed first.
package chatclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// Options configure Run. Zero values get the documented defaults.
type Options struct {
	// Server is the hub's base URL, e.g. http://127.0.0.1:8080.
	Server string
	// Account is the account id (default "1000").
	Account string
	// Skill is the skill new conversations are routed to (default "bot").
	Skill string
	// Idle is how long Run waits for further messages after the input ended
	// before it returns (default 3s). Only used when Interactive is false.
	Idle time.Duration
	// In supplies the consumer's messages, one per line. Blank lines are skipped.
	In io.Reader
	// Out receives one line per message.
	Out io.Writer
	// Interactive means In is a terminal: Run then returns as soon as the
	// input ends instead of waiting for Idle.
	Interactive bool
	// HTTPClient is used for the token request and the websocket handshake
	// (e.g. to trust a custom CA). Default http.DefaultClient.
	HTTPClient *http.Client
	// TokenFile, when set, keeps the consumer token across runs so a later
	// run continues the same consumer (and its open conversation).
	TokenFile string
}

func (o *Options) defaults() error {
	if o.Server == "" {
		return errors.New("chat: no server URL")
	}
	if o.Account == "" {
		o.Account = "1000"
	}
	if o.Skill == "" {
		o.Skill = "bot"
	}
	if o.Idle <= 0 {
		o.Idle = 3 * time.Second
	}
	if o.In == nil {
		o.In = strings.NewReader("")
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	return nil
}

// Run connects to the hub, opens (or continues) a conversation and relays
// lines between o.In/o.Out and the conversation. It returns nil when the
// input has ended (and, unless Interactive, Idle has passed without a
// message) or when the conversation is closed; it returns ctx.Err() when ctx
// ends first, and an error when the hub cannot be reached or rejects a request.
func Run(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	base, err := url.Parse(strings.TrimRight(o.Server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("chat: server must be an http(s) URL, got %q", o.Server)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	c := &client{o: o, base: base, out: bufio.NewWriter(o.Out)}
	defer c.out.Flush()
	tok, err := c.consumerToken(ctx)
	if err != nil {
		return err
	}
	conn, err := c.dial(ctx, tok)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	c.conn = conn
	err = c.loop(ctx)
	if err == nil {
		_ = conn.Close(websocket.StatusNormalClosure, "bye")
	}
	return err
}

// tokenResponse is the body of POST /api/account/{account}/consumer/token.
type tokenResponse struct {
	Token      string `json:"token"`
	ConsumerID string `json:"consumerId"`
}

// consumerToken returns a token: the one in TokenFile refreshed, or a new one.
func (c *client) consumerToken(ctx context.Context) (string, error) {
	var stored string
	if c.o.TokenFile != "" {
		b, err := os.ReadFile(c.o.TokenFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("chat: read token file: %w", err)
		}
		stored = strings.TrimSpace(string(b))
	}
	var (
		t   tokenResponse
		err error
	)
	if stored != "" {
		t, err = c.requestToken(ctx, stored)
	}
	if stored == "" || err != nil {
		if t, err = c.requestToken(ctx, ""); err != nil {
			return "", err
		}
	}
	c.consumerID = t.ConsumerID
	if c.o.TokenFile != "" && t.Token != stored {
		if err := os.WriteFile(c.o.TokenFile, []byte(t.Token+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("chat: write token file: %w", err)
		}
	}
	return t.Token, nil
}

func (c *client) requestToken(ctx context.Context, bearer string) (tokenResponse, error) {
	var t tokenResponse
	u := c.base.JoinPath("api", "account", c.o.Account, "consumer", "token")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader("{}"))
	if err != nil {
		return t, err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return t, fmt.Errorf("chat: consumer token: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return t, fmt.Errorf("chat: consumer token: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, &t); err != nil || t.Token == "" {
		return t, fmt.Errorf("chat: consumer token: unexpected response %q", bytes.TrimSpace(body))
	}
	return t, nil
}

func (c *client) dial(ctx context.Context, token string) (*websocket.Conn, error) {
	u := c.base.JoinPath("ws_api", "account", c.o.Account, "messaging", "consumer")
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.RawQuery = "v=3"
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: c.o.HTTPClient, HTTPHeader: h})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("chat: connect %s: %s", u.Redacted(), resp.Status)
		}
		return nil, fmt.Errorf("chat: connect: %w", err)
	}
	conn.SetReadLimit(4 << 20)
	return conn, nil
}

// frame is one websocket frame of the hub's protocol.
type frame struct {
	Kind  string          `json:"kind"`
	ID    string          `json:"id,omitempty"`
	ReqID string          `json:"reqId,omitempty"`
	Type  string          `json:"type,omitempty"`
	Code  int             `json:"code,omitempty"`
	Body  json.RawMessage `json:"body,omitempty"`
}

// errorBody is the body of a response with a 4xx/5xx code.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (f frame) err(what string) error {
	if f.Code < 400 {
		return nil
	}
	var e errorBody
	_ = json.Unmarshal(f.Body, &e)
	msg := e.Error.Message
	if msg == "" {
		msg = string(f.Body)
	}
	return fmt.Errorf("chat: %s: %d %s", what, f.Code, msg)
}

// conversation is what the client knows of one conversation.
type conversation struct {
	state    string
	skillID  string
	agents   map[string]bool
	hadAgent bool // an agent has been assigned at some point
	dialogs  map[string]dialog
}

type dialog struct {
	typ, state string
}

// client is the state of one Run. Only the loop goroutine touches it.
type client struct {
	o          Options
	base       *url.URL
	out        *bufio.Writer
	conn       *websocket.Conn
	consumerID string

	nextID  int
	pending map[string]func(frame) error

	convID     string
	convs      map[string]*conversation
	subscribed map[string]bool
	seen       map[string]bool
	names      map[string]string
	closed     bool
	printed    bool // something was printed since the last check
}

// send writes a request and registers done for its response.
func (c *client) send(ctx context.Context, typ string, body any, done func(frame) error) error {
	c.nextID++
	id := strconv.Itoa(c.nextID)
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	c.pending[id] = done
	if err := wsjson.Write(ctx, c.conn, frame{Kind: "req", ID: id, Type: typ, Body: b}); err != nil {
		return fmt.Errorf("chat: send %s: %w", typ, err)
	}
	return nil
}

// loop is the chat: it opens a conversation, sends each input line as a
// message once the previous one is acknowledged, and prints what arrives,
// until the input ends and the chat is idle, the conversation closes, or
// the connection is lost.
func (c *client) loop(ctx context.Context) error {
	c.pending = map[string]func(frame) error{}
	c.convs = map[string]*conversation{}
	c.subscribed = map[string]bool{}
	c.seen = map[string]bool{}
	c.names = map[string]string{}

	frames, readErr := c.readFrames(ctx)
	allLines := c.readLines(ctx)

	var lines <-chan string // nil until the conversation is ready
	inputDone := false
	publishing := 0
	idle := time.NewTimer(c.o.Idle)
	defer idle.Stop()
	arm := func() { idle.Reset(c.o.Idle) }

	if err := c.openConversation(ctx, func() { lines = allLines }); err != nil {
		return err
	}
	for {
		// One message at a time: the next line is read once the previous
		// one is acknowledged, so messages keep their order and go to the
		// dialog that is open by then (e.g. a post-conversation survey).
		next := lines
		if publishing > 0 {
			next = nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if c.closed {
				return nil
			}
			return fmt.Errorf("chat: connection lost: %w", err)
		case f := <-frames:
			if err := c.handle(ctx, f); err != nil {
				return err
			}
			if c.closed {
				return nil
			}
			if c.printed {
				c.printed = false
				arm()
			}
		case line, ok := <-next:
			if !ok {
				lines = nil
				inputDone = true
				if c.o.Interactive {
					return nil
				}
				arm()
				continue
			}
			text := strings.TrimSpace(line)
			if text == "" {
				continue
			}
			publishing++
			if err := c.publish(ctx, text, func() { publishing--; arm() }); err != nil {
				return err
			}
		case <-idle.C:
			if inputDone && publishing == 0 && !c.o.Interactive {
				return nil
			}
		}
	}
}

// readFrames reads the connection's frames on a goroutine of its own until
// ctx ends or the read fails (then its error goes to the second channel).
func (c *client) readFrames(ctx context.Context) (<-chan frame, <-chan error) {
	frames := make(chan frame)
	readErr := make(chan error, 1)
	go func() {
		for {
			var f frame
			if err := wsjson.Read(ctx, c.conn, &f); err != nil {
				readErr <- err
				return
			}
			select {
			case frames <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	return frames, readErr
}

// readLines reads the input's lines on a goroutine of its own; the channel
// closes when the input ends.
func (c *client) readLines(ctx context.Context) <-chan string {
	allLines := make(chan string)
	go func() {
		defer close(allLines)
		sc := bufio.NewScanner(c.o.In)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case allLines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return allLines
}

// openConversation subscribes to the consumer's conversations and asks for
// a new one; ready runs once the conversation exists and its dialogs are
// subscribed.
func (c *client) openConversation(ctx context.Context, ready func()) error {
	err := c.send(ctx, "cqm.SubscribeExConversations", map[string]any{
		"brandId": c.o.Account, "convState": []string{"OPEN", "CLOSE"},
	}, func(f frame) error { return f.err("subscribe to conversations") })
	if err != nil {
		return err
	}
	return c.send(ctx, "cm.ConsumerRequestConversation", map[string]any{
		"brandId": c.o.Account, "channelType": "MESSAGING", "skill": c.o.Skill,
	}, func(f frame) error {
		if err := f.err("request conversation"); err != nil {
			return err
		}
		var b struct {
			ConversationID string `json:"conversationId"`
		}
		if err := json.Unmarshal(f.Body, &b); err != nil || b.ConversationID == "" {
			return fmt.Errorf("chat: request conversation: unexpected response %s", f.Body)
		}
		if err := c.conversationCreated(ctx, b.ConversationID); err != nil {
			return err
		}
		ready()
		return nil
	})
}

// conversationCreated records the consumer's new conversation and
// subscribes to its main and open dialogs.
func (c *client) conversationCreated(ctx context.Context, id string) error {
	c.convID = id
	conv := c.conv(id)
	if _, ok := conv.dialogs[c.convID]; !ok {
		conv.dialogs[c.convID] = dialog{typ: "MAIN", state: "OPEN"}
	}
	if conv.state == "" {
		conv.state = "OPEN"
	}
	for id, d := range conv.dialogs {
		if d.typ == "MAIN" || d.state == "OPEN" {
			if err := c.subscribe(ctx, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// publish sends one line as a text message to the active dialog; acked runs
// when the hub answers.
func (c *client) publish(ctx context.Context, text string, acked func()) error {
	return c.send(ctx, "ms.PublishEvent", map[string]any{
		"dialogId": c.activeDialog(),
		"event":    map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": text},
	}, func(f frame) error {
		acked()
		return f.err("send message")
	})
}

func (c *client) conv(id string) *conversation {
	conv := c.convs[id]
	if conv == nil {
		conv = &conversation{agents: map[string]bool{}, dialogs: map[string]dialog{}}
		c.convs[id] = conv
	}
	return conv
}

func (c *client) subscribe(ctx context.Context, dialogID string) error {
	if c.subscribed[dialogID] {
		return nil
	}
	c.subscribed[dialogID] = true
	return c.send(ctx, "ms.SubscribeMessagingEvents", map[string]any{
		"dialogId": dialogID, "conversationId": c.convID, "fromSeq": 0,
	}, func(f frame) error { return f.err("subscribe to messages") })
}

// activeDialog is the open post-conversation survey dialog if there is one,
// else the main dialog (whose id is the conversation id).
func (c *client) activeDialog() string {
	if conv := c.convs[c.convID]; conv != nil {
		for id, d := range conv.dialogs {
			if d.typ == "POST_SURVEY" && d.state == "OPEN" {
				return id
			}
		}
	}
	return c.convID
}

func (c *client) handle(ctx context.Context, f frame) error {
	switch f.Kind {
	case "resp":
		done := c.pending[f.ReqID]
		delete(c.pending, f.ReqID)
		if done != nil {
			return done(f)
		}
	case "notification":
		switch f.Type {
		case "cqm.ExConversationChangeNotification":
			var b conversationNotification
			if err := json.Unmarshal(f.Body, &b); err != nil {
				return nil // not ours to judge; ignore malformed notifications
			}
			for _, ch := range b.Changes {
				if err := c.applyConversation(ctx, ch); err != nil {
					return err
				}
			}
		case "ms.MessagingEventNotification":
			var b messagingNotification
			if err := json.Unmarshal(f.Body, &b); err != nil {
				return nil
			}
			for _, ev := range b.Changes {
				c.messagingEvent(ev)
			}
		}
	}
	return nil
}
