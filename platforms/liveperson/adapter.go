package liveperson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/botrelay/botrelay"
)

var _ botrelay.PlatformAdapter = (*Adapter)(nil)

// Websocket close codes with a meaning for the session.
const (
	// CloseUnauthorized, CloseTokenExpired: the bearer is no longer valid;
	// the adapter logs in again and reconnects. 1011 (internal error) is
	// treated the same way, as LivePerson's SDK does.
	CloseUnauthorized websocket.StatusCode = 4401
	CloseTokenExpired websocket.StatusCode = 4407
	// CloseSessionReplaced: the same user logged in elsewhere (the hub's
	// code; docs/protocol.md). Run ends with ErrSessionReplaced.
	CloseSessionReplaced websocket.StatusCode = 4409
)

// Adapter is one bot user's session with the platform. Create it with New;
// Run holds the session, the other methods act on conversations while it
// runs. An Adapter is safe for concurrent use.
type Adapter struct {
	cfg  Config
	ep   endpoint
	opts Options
	log  *slog.Logger

	running atomic.Bool
	authMu  sync.Mutex // serialises domain lookup and login
	ids     atomic.Uint64

	mu         sync.Mutex
	doms       *domains
	auth       *loginState
	oldBearers []string
	conn       *wsConn
	convs      map[string]*convState
	skillNames map[botrelay.SkillID]string
	rings      map[string]bool
	contexts   map[string]json.RawMessage // see sharedContext
	gen        uint64                     // bumped before each conversation subscription
}

// New checks cfg and returns an adapter. It does no I/O. An invalid cfg
// gives an EINVALID *botrelay.Error naming the field.
func New(cfg Config, opts Options) (*Adapter, error) {
	ep, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	opts.defaults()
	return &Adapter{
		cfg:   cfg,
		ep:    ep,
		opts:  opts,
		log:   opts.Logger.With("platform", "liveperson", "account", cfg.Account, "user", cfg.Username),
		convs: map[string]*convState{},
		rings: map[string]bool{},
	}, nil
}

// UserID returns the bot user's participant id ("<account>.<userId>")
// once logged in, else "".
func (a *Adapter) UserID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.auth == nil {
		return ""
	}
	return a.auth.legacyID
}

// errHandshakeRefused: the websocket handshake refused the bearer.
var errHandshakeRefused = errors.New("liveperson: the websocket refused the login session")

// errReconnect asks Run to reconnect at once (a new bearer after a
// re-login).
var errReconnect = errors.New("liveperson: reconnecting with a new login session")

// Run implements botrelay.PlatformAdapter. It returns an error wrapping
// ErrLoginRejected or ErrSessionReplaced when it cannot go on, and nil
// when ctx ends.
func (a *Adapter) Run(ctx context.Context, in botrelay.Inbound) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("liveperson: Run is already running for this adapter")
	}
	defer a.running.Store(false)
	a.mu.Lock()
	a.convs = map[string]*convState{}
	a.rings = map[string]bool{}
	a.mu.Unlock()

	q := newQueue()
	qctx, qcancel := context.WithCancel(ctx)
	qdone := make(chan struct{})
	go func() { defer close(qdone); q.run(qctx, in) }()
	defer func() { qcancel(); <-qdone }()

	failures := 0
	for {
		connected, err := a.session(ctx, q, in)
		if ctx.Err() != nil {
			a.logoutBestEffort()
			return nil
		}
		if connected {
			failures = 0
		}
		if errors.Is(err, ErrLoginRejected) || errors.Is(err, ErrSessionReplaced) {
			a.log.Error("liveperson: session ended for good", "err", err)
			in.PlatformState(err)
			return err
		}
		if errors.Is(err, errReconnect) {
			continue
		}
		in.PlatformState(err)
		wait := a.backoff(failures)
		failures++
		a.log.Warn("liveperson: session interrupted; reconnecting", "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			a.logoutBestEffort()
			return nil
		case <-t.C:
		}
	}
}

// backoff returns the wait before reconnection attempt n (0-based): the
// minimum doubled n times, capped at the maximum, then jittered into
// [d/2, d].
func (a *Adapter) backoff(n int) time.Duration {
	d := a.opts.ReconnectMin
	for i := 0; i < n && d < a.opts.ReconnectMax; i++ {
		d *= 2
	}
	d = min(d, a.opts.ReconnectMax)
	half := d / 2
	return half + rand.N(half+1)
}

func (a *Adapter) logoutBestEffort() {
	a.mu.Lock()
	d, st := a.doms, a.auth
	a.auth = nil
	a.mu.Unlock()
	if d == nil || st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	a.logout(ctx, *d, st)
}

// session runs one connection: login (when needed), websocket,
// subscriptions, then keepalive and refresh until the socket or ctx ends.
// connected reports whether the subscriptions succeeded.
func (a *Adapter) session(ctx context.Context, q *queue, in botrelay.Inbound) (connected bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d, st, wc, err := a.connect(ctx, sctx, q)
	if err != nil {
		return false, err
	}
	go wc.readLoop()
	a.mu.Lock()
	a.conn = wc
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		if a.conn == wc {
			a.conn = nil
		}
		a.mu.Unlock()
		wc.close(websocket.StatusNormalClosure, "bye")
		<-wc.done
	}()

	if err := a.subscribe(sctx, wc, st); err != nil {
		if lost := wc.lostErr(); lost != nil {
			return false, a.connLost(wc, st)
		}
		var perr *Error
		if errors.As(err, &perr) && perr.Code == 401 {
			a.dropAuth(st, false) // the platform no longer takes the bearer
		}
		return false, err
	}
	q.push(a.sweepStale(wc)...)
	q.push(&botrelay.PlatformEvent{Kind: botrelay.EventSynced, At: a.opts.Now()})
	in.PlatformState(nil)
	a.log.Info("liveperson: online", "userId", st.userID)

	return true, a.keepAlive(ctx, sctx, wc, d, st)
}

// connect logs in when needed and opens the websocket. A kept login
// session the platform no longer knows (it restarted, or the session
// expired) is refused at the handshake: it logs in once more at once before
// reporting anything.
func (a *Adapter) connect(ctx, sctx context.Context, q *queue) (d domains, st *loginState, wc *wsConn, err error) {
	for attempt := 0; ; attempt++ {
		var fresh bool
		d, st, fresh, err = a.ensureAuth(ctx)
		if err != nil {
			return d, st, nil, err
		}
		wc, err = a.dial(sctx, d, st, q)
		if err == nil {
			return d, st, wc, nil
		}
		if fresh || attempt > 0 || !errors.Is(err, errHandshakeRefused) {
			return d, st, nil, err
		}
	}
}

// keepAlive pings the connected socket and refreshes the login session
// until ctx ends, the socket is lost, or a new login needs a new socket
// (errReconnect).
func (a *Adapter) keepAlive(ctx, sctx context.Context, wc *wsConn, d domains, st *loginState) error {
	ping := time.NewTicker(a.opts.PingInterval)
	defer ping.Stop()
	refresh := time.NewTimer(a.opts.RefreshInterval)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wc.done:
			return a.connLost(wc, st)
		case <-ping.C:
			if _, err := wc.request(sctx, ".GetClock", struct{}{}, nil, ""); err != nil {
				var te *timeoutError
				if errors.As(err, &te) {
					a.log.Warn("liveperson: keepalive unanswered; reconnecting")
					wc.close(websocket.StatusGoingAway, "keepalive timeout")
				}
			}
		case <-refresh.C:
			err := a.refresh(sctx, d, st)
			switch {
			case err == nil:
				refresh.Reset(a.opts.RefreshInterval)
			case errors.Is(err, errSessionExpired):
				a.log.Info("liveperson: login session expired; logging in again")
				a.dropAuth(st, false)
				if _, _, _, err := a.ensureAuth(sctx); err != nil {
					if errors.Is(err, ErrLoginRejected) || ctx.Err() != nil {
						return err
					}
					a.log.Warn("liveperson: login failed; retrying", "err", err)
					refresh.Reset(min(time.Minute, a.opts.RefreshInterval))
					continue
				}
				return errReconnect
			default:
				if ctx.Err() != nil {
					return ctx.Err()
				}
				a.log.Warn("liveperson: refresh failed; retrying", "err", err)
				refresh.Reset(min(time.Minute, a.opts.RefreshInterval))
			}
		}
	}
}

// connLost classifies the end of a websocket.
func (a *Adapter) connLost(wc *wsConn, st *loginState) error {
	err := wc.lostErr()
	code := websocket.CloseStatus(err)
	switch code {
	case CloseUnauthorized, CloseTokenExpired, websocket.StatusInternalError:
		a.dropAuth(st, false)
		return fmt.Errorf("liveperson: the platform closed the websocket (%d); logging in again", code)
	case CloseSessionReplaced:
		a.mu.Lock()
		ours := a.auth != st // we logged in again ourselves meanwhile
		a.mu.Unlock()
		if ours {
			return fmt.Errorf("liveperson: websocket of the previous login session closed (%d)", code)
		}
		a.dropAuth(st, false)
		return fmt.Errorf("%w: the platform closed the websocket with code %d because user %q logged in elsewhere; "+
			"make sure only one bot runs with this user", ErrSessionReplaced, code, a.cfg.Username)
	}
	if code != -1 {
		return fmt.Errorf("liveperson: the platform closed the websocket (%d)", code)
	}
	return fmt.Errorf("liveperson: websocket lost: %w", err)
}

// subscribe subscribes to the bot's conversations and routing tasks and sets
// the agent ONLINE.
func (a *Adapter) subscribe(ctx context.Context, wc *wsConn, st *loginState) error {
	a.mu.Lock()
	a.gen++
	wc.gen = a.gen
	// Rings are sent again to a new routing subscription; handle them anew
	// (an accept may have been lost with the previous socket).
	a.rings = map[string]bool{}
	a.mu.Unlock()
	if _, err := wc.request(ctx, ".ams.aam.SubscribeExConversations", map[string]any{
		"brandId":   a.cfg.Account,
		"agentIds":  []string{st.legacyID},
		"convState": []string{"OPEN"},
	}, nil, ""); err != nil {
		return err
	}
	if _, err := wc.request(ctx, ".ams.routing.SubscribeRoutingTasks", struct{}{}, nil, ""); err != nil {
		return err
	}
	if _, err := wc.request(ctx, ".ams.routing.SetAgentState", map[string]any{
		"availability": "ONLINE",
		"channels":     []string{"MESSAGING"},
		"agentUserId":  st.userPID,
	}, nil, ""); err != nil {
		return err
	}
	return nil
}

// dial opens the UMS websocket with the bearer in the path.
func (a *Adapter) dial(ctx context.Context, d domains, st *loginState, q *queue) (*wsConn, error) {
	u := a.ep.wsURL(d.messaging, "/ws_api/account/"+a.cfg.Account+"/messaging/brand/"+st.bearer, "v=2.1")
	dctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: a.opts.HTTPClient})
	if err != nil {
		if resp != nil && (resp.StatusCode == 401 || resp.StatusCode == 403) {
			a.dropAuth(st, false)
			return nil, fmt.Errorf("%w (%d at %s); logging in again", errHandshakeRefused, resp.StatusCode, d.messaging)
		}
		a.mu.Lock()
		a.doms = nil // look the hosts up again next time
		a.mu.Unlock()
		if resp != nil {
			return nil, fmt.Errorf("liveperson: websocket at %s: %s", d.messaging, resp.Status)
		}
		return nil, fmt.Errorf("liveperson: websocket at %s: %w", d.messaging, a.redactBearer(err, st.bearer))
	}
	c.SetReadLimit(16 << 20)
	wc := &wsConn{
		a:       a,
		c:       c,
		ctx:     ctx,
		q:       q,
		st:      st,
		pending: map[string]chan inFrame{},
		done:    make(chan struct{}),
	}
	return wc, nil
}

func (a *Adapter) redactBearer(err error, bearer string) error {
	a.mu.Lock()
	a.oldBearers = append(a.oldBearers, bearer)
	if len(a.oldBearers) > 4 {
		a.oldBearers = a.oldBearers[len(a.oldBearers)-4:]
	}
	a.mu.Unlock()
	return a.redact(err)
}

// requestFrame sends one request, written by encode, on the live
// connection and waits for its answer.
func (a *Adapter) requestFrame(ctx context.Context, typ string, encode func(id string) ([]byte, error)) (json.RawMessage, error) {
	wc := a.current()
	if wc == nil {
		return nil, ErrNotConnected
	}
	return wc.requestFrame(ctx, typ, encode)
}

// current returns the live connection or nil.
func (a *Adapter) current() *wsConn {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conn
}

// request sends one request on the live connection and waits for its
// answer.
func (a *Adapter) request(ctx context.Context, typ string, body any, metadata json.RawMessage, encoded string) (json.RawMessage, error) {
	wc := a.current()
	if wc == nil {
		return nil, ErrNotConnected
	}
	return wc.request(ctx, typ, body, metadata, encoded)
}

// inFrame is a frame the platform sends.
type inFrame struct {
	Kind  string          `json:"kind"`
	ReqID json.RawMessage `json:"reqId"`
	Code  int             `json:"code"`
	Type  string          `json:"type"`
	Body  json.RawMessage `json:"body"`
}

// outFrame is a request frame.
type outFrame struct {
	Kind            string          `json:"kind"`
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Body            any             `json:"body"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	EncodedMetadata string          `json:"encodedMetadata,omitempty"`
}
