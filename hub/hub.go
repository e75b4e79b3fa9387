package hub

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/hub/web"
	"github.com/botrelay/botrelay/internal/limits"
	"github.com/botrelay/botrelay/internal/uuid"
)

// Close codes the hub uses on websockets (see docs/protocol.md).
const (
	// CloseGoingAway: the server is shutting down; reconnect later.
	CloseGoingAway = websocket.StatusGoingAway // 1001
	// CloseSessionEnded: the agent session was logged out or has expired;
	// log in again.
	CloseSessionEnded websocket.StatusCode = 4401
	// CloseSessionReplaced: another login or connection of the same user
	// took over; this one must not reconnect on its own.
	CloseSessionReplaced websocket.StatusCode = 4409
	// CloseTooSlow: the client did not read its notifications fast enough
	// and its outbound queue filled up; reconnect and QueryMessages.
	CloseTooSlow websocket.StatusCode = 4429
)

// Options configure a Hub.
type Options struct {
	// Store keeps users, skills, API keys and conversations.
	Store botrelay.Store
	// Account is the one account the hub serves.
	Account botrelay.AccountID
	// DataDir is the data folder. Uploads are kept in the store; files
	// uploaded by versions before that are still served from DataDir/files.
	DataDir string
	// SigningKey signs consumer tokens and file URLs (HMAC-SHA256). At
	// least 32 bytes. Every hub on one store must have the same one (the
	// server keeps it in the store, sealed with the master key).
	SigningKey []byte
	// FrameAncestors is the frame-ancestors source list of the consumer
	// page (space-separated origins): the sites that may embed it. Empty
	// allows none. The agent console can never be framed.
	FrameAncestors string
	// Logger receives the hub's logs. Default: slog.Default().
	Logger *slog.Logger
	// PublicHost returns the host[:port] this server is reachable at, for
	// baseURI.json and file URLs. Default: the request's Host header.
	PublicHost func(r *http.Request) string
	// RingTimeout is how long a ring waits for the agent to accept before
	// it moves on to the next agent. Default: 60s.
	RingTimeout time.Duration
	// SessionTTL is how long an agent session lives without a refresh.
	// Default: 8h (LivePerson's sessionTTl).
	SessionTTL time.Duration
	// SessionRecheck is how long a node trusts an agent session it holds
	// in memory before it reads the store again, and how often it re-reads
	// the sessions of connected agents: a logout or a new login on another
	// node takes effect here within about this time. Default: 5s.
	SessionRecheck time.Duration
	// Active reports whether this node does the hub's once-per-cluster
	// work (deleting expired sessions from the store). Default: always.
	Active func() bool
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Logins limits password logins and runs their hashes; the server
	// shares one with the management API. Default: a limiter of its own
	// with the default limits.
	Logins *limits.Logins
	// Consumers limits anonymous consumers (tokens, conversations,
	// messages). Default: nil, no limits.
	Consumers *limits.Consumers
	// ClientAddr returns the client address of a request, for the limits.
	// Default: the TCP peer's IP address (limits.ClientAddr).
	ClientAddr func(r *http.Request) string
	// Events is told about conversations opened, assigned, transferred
	// and closed (events.go); nil for none.
	Events botrelay.EventSink
}

// Hub is the embedded messaging platform. Create it with New, register its
// routes with Routes, and run it with Run.
type Hub struct {
	o     Options
	log   *slog.Logger
	store botrelay.Store
	files string // DataDir/files, read for uploads older than the store's
	web   fs.FS
	// fileKey signs download links; derived from SigningKey so a link can
	// never pass for a consumer token or the other way round.
	fileKey []byte

	ready     chan struct{}
	readyOnce sync.Once
	closed    chan struct{}
	closeOnce sync.Once

	createMu sync.Mutex // serialises conversation creation
	connWG   sync.WaitGroup

	mu    sync.Mutex
	convs map[botrelay.ConversationID]*convState
	// byUser indexes the open conversations by their active users
	// (Conversation.HasUser), so an agent's subscription finds its own
	// without going through every conversation of the node.
	byUser       map[botrelay.UserID]map[*convState]struct{}
	dialogs      map[botrelay.DialogID]botrelay.ConversationID
	consumerOpen map[botrelay.ConsumerID]botrelay.ConversationID
	waiting      []botrelay.ConversationID // FIFO of conversations without an agent
	rings        map[string]*ring
	sessions     map[string]*session // by bearer
	cookies      map[string]*session // by Session_id cookie
	userSession  map[botrelay.UserID]*session
	conns        map[*conn]struct{}
	// consumerConns indexes the consumer connections in conns, so that
	// delivering a message does not walk every connection.
	consumerConns map[botrelay.ConsumerID]map[*conn]struct{}
	load          map[botrelay.UserID]int // open conversations assigned to a user
	ringsOf       map[botrelay.UserID]int // rings a user has (len of its part of rings)
	users         map[botrelay.UserID]*botrelay.User
	nextID        uint64
	closing       bool
	// splitCur is traffic splitting's round-robin state per skill (split.go).
	splitCur map[botrelay.SkillID]map[botrelay.UserID]int
}

// convState is the in-memory state of one open conversation.
type convState struct {
	op        sync.Mutex // serialises writes of this conversation
	c         *botrelay.Conversation
	ring      *ring
	tried     map[botrelay.UserID]bool
	suggested botrelay.UserID
	waitSince time.Time
	// seqDialog and seq are the last sequence stored in one of the
	// conversation's dialogs (see lastSequence); guarded by op.
	seqDialog botrelay.DialogID
	seq       int64
	// consumerDialog and consumerSeq are the dialog and sequence of the
	// last event the consumer wrote since the hub holds the conversation
	// (see lastConsumer); guarded by h.mu.
	consumerDialog botrelay.DialogID
	consumerSeq    int64
	// preview and previewAt are the consumer's last message, for rings
	// (see notePreview); guarded by h.mu.
	preview        string
	previewAt      time.Time
	previewLoading bool
}

// markTried records that u was rung for the conversation; tried is made on
// the first ring, so the many conversations never rung cost no map.
func (cs *convState) markTried(u botrelay.UserID) {
	if cs.tried == nil {
		cs.tried = map[botrelay.UserID]bool{}
	}
	cs.tried[u] = true
}

// indexUsers adds cs to byUser under each active user of its
// conversation, or removes it. The caller holds h.mu.
func (h *Hub) indexUsers(cs *convState, add bool) {
	if cs.c == nil {
		return
	}
	for _, p := range cs.c.Participants {
		if p.UserID == 0 || p.State != botrelay.ParticipantStateActive {
			continue
		}
		set := h.byUser[p.UserID]
		if add {
			if set == nil {
				set = map[*convState]struct{}{}
				h.byUser[p.UserID] = set
			}
			set[cs] = struct{}{}
			continue
		}
		delete(set, cs)
		if len(set) == 0 {
			delete(h.byUser, p.UserID)
		}
	}
}

// ring offers a waiting conversation to one agent.
type ring struct {
	id      string
	conv    botrelay.ConversationID
	user    botrelay.UserID
	expires time.Time
	timer   *time.Timer
}

// New checks the options and returns a Hub. It does no I/O.
func New(o Options) (*Hub, error) {
	if o.Store == nil {
		return nil, errors.New("hub: Store is required")
	}
	if err := o.Account.Validate(); err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	if o.DataDir == "" {
		return nil, errors.New("hub: DataDir is required")
	}
	if len(o.SigningKey) < 32 {
		return nil, errors.New("hub: SigningKey must be at least 32 bytes")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RingTimeout <= 0 {
		o.RingTimeout = 60 * time.Second
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 8 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SessionRecheck <= 0 {
		o.SessionRecheck = 5 * time.Second
	}
	if o.Active == nil {
		o.Active = func() bool { return true }
	}
	if o.Logins == nil {
		o.Logins = limits.NewLogins(limits.LoginConfig{}, o.Now)
	}
	if o.ClientAddr == nil {
		o.ClientAddr = limits.ClientAddr
	}
	if o.PublicHost == nil {
		o.PublicHost = func(r *http.Request) string { return r.Host }
	}
	o.SigningKey = append([]byte(nil), o.SigningKey...)
	return &Hub{
		o:             o,
		log:           o.Logger.With("component", "hub"),
		store:         o.Store,
		files:         o.DataDir + "/files",
		fileKey:       deriveFileKey(o.SigningKey),
		web:           web.FS,
		ready:         make(chan struct{}),
		closed:        make(chan struct{}),
		convs:         map[botrelay.ConversationID]*convState{},
		byUser:        map[botrelay.UserID]map[*convState]struct{}{},
		dialogs:       map[botrelay.DialogID]botrelay.ConversationID{},
		consumerOpen:  map[botrelay.ConsumerID]botrelay.ConversationID{},
		rings:         map[string]*ring{},
		sessions:      map[string]*session{},
		cookies:       map[string]*session{},
		userSession:   map[botrelay.UserID]*session{},
		conns:         map[*conn]struct{}{},
		consumerConns: map[botrelay.ConsumerID]map[*conn]struct{}{},
		load:          map[botrelay.UserID]int{},
		ringsOf:       map[botrelay.UserID]int{},
		users:         map[botrelay.UserID]*botrelay.User{},
	}, nil
}

// Run loads the open conversations from the store (those without an
// assigned agent wait on their skill again), then sweeps expired agent
// sessions until ctx ends. Requests that need conversations wait until the
// load is done. Run returns ctx's error, or the load's error.
func (h *Hub) Run(ctx context.Context) error {
	list, err := h.store.Conversations(ctx, h.o.Account, botrelay.ConversationFilter{State: botrelay.ConversationOpen})
	if err != nil {
		return fmt.Errorf("hub: load open conversations: %w", err)
	}
	h.ensureUsers(ctx, list...)
	h.mu.Lock()
	// Made to size once: grown one entry at a time, the two maps of a
	// million conversations were rehashed some twenty times while every
	// request waited for the load.
	h.convs = grownMap(h.convs, len(list))
	h.consumerOpen = grownMap(h.consumerOpen, len(list))
	for _, c := range list {
		h.install(nil, c)
	}
	h.dispatch()
	h.mu.Unlock()
	h.log.Info("hub ready", "open_conversations", len(list))
	h.readyOnce.Do(func() { close(h.ready) })

	t := time.NewTicker(time.Minute)
	defer t.Stop()
	recheck := time.NewTicker(h.o.SessionRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.closed:
			return nil
		case <-t.C:
			h.sweepSessions(ctx)
		case <-recheck.C:
			h.recheckSessions(ctx)
		}
	}
}

// Close closes every websocket with 1001 (going away) and stops the ring
// timers. Conversations stay in the store.
func (h *Hub) Close() error {
	h.closeOnce.Do(func() { close(h.closed) })
	h.mu.Lock()
	h.closing = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	for _, r := range h.rings {
		r.timer.Stop()
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.close(CloseGoingAway, "server shutting down")
	}
	// Give the close handshakes a moment so clients see 1001.
	done := make(chan struct{})
	go func() { h.connWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	return nil
}

// Ready is closed once Run has loaded the open conversations.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// waitReady blocks until Run has loaded the conversations.
func (h *Hub) waitReady(ctx context.Context) error {
	select {
	case <-h.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-h.closed:
		return errors.New("hub closed")
	}
}

// newID returns a random UUID (version 4).
func newID() string { return uuid.New() }

func (h *Hub) now() time.Time { return h.o.Now().UTC() }

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// grownMap returns m with room for n more entries.
func grownMap[K comparable, V any](m map[K]V, n int) map[K]V {
	grown := make(map[K]V, len(m)+n)
	maps.Copy(grown, m)
	return grown
}

// install makes c the current state of its conversation; old is the state
// it replaces (nil for a new or loaded conversation). It keeps the indexes,
// the agents' load and the waiting queue in step, and cancels a ring that no
// longer applies. The caller holds h.mu and calls notify and dispatch after.
func (h *Hub) install(old, c *botrelay.Conversation) *convState {
	cs := h.convs[c.ID]
	if cs == nil {
		cs = &convState{}
		h.convs[c.ID] = cs
	}
	if old != nil && old.State == botrelay.ConversationOpen {
		if a := old.AssignedAgent(); a != 0 {
			h.load[a]--
		}
	}
	h.indexUsers(cs, false)
	cs.c = c
	if c.State == botrelay.ConversationOpen {
		h.indexUsers(cs, true)
	}
	if c.State != botrelay.ConversationOpen {
		h.cancelRing(cs, "CANCELLED")
		h.unwait(c.ID)
		delete(h.convs, c.ID)
		for _, d := range c.Dialogs {
			delete(h.dialogs, d.ID) // (a main dialog's is not there: see dialogOwner)
		}
		if h.consumerOpen[c.ConsumerID] == c.ID {
			delete(h.consumerOpen, c.ConsumerID)
		}
		return cs
	}
	for _, d := range c.Dialogs {
		if string(d.ID) != string(c.ID) {
			h.dialogs[d.ID] = c.ID
		}
	}
	h.consumerOpen[c.ConsumerID] = c.ID
	cs.suggested = 0
	for _, p := range c.Participants {
		if p.State == botrelay.ParticipantStateSuggested && p.UserID != 0 {
			cs.suggested = p.UserID
			break
		}
	}
	if a := c.AssignedAgent(); a != 0 {
		h.load[a]++
		h.cancelRing(cs, "CANCELLED")
		h.unwait(c.ID)
		return cs
	}
	// Waiting: a new conversation, one loaded at start, or one whose agent
	// left or whose skill changed starts a fresh round of rings.
	requeue := old == nil || old.AssignedAgent() != 0 || old.SkillID != c.SkillID || inSurvey(old) != inSurvey(c) || (cs.suggested != 0 && !cs.tried[cs.suggested] && (cs.ring == nil || cs.ring.user != cs.suggested))
	if requeue {
		h.cancelRing(cs, "CANCELLED")
		cs.tried = nil
		h.unwait(c.ID)
		cs.waitSince = h.now()
		h.waiting = append(h.waiting, c.ID)
	}
	return cs
}

// dialogOwner is the open conversation a dialog belongs to. A dialog whose
// id is its conversation's (a main dialog the hub made) is not indexed in
// h.dialogs: the conversation's own entry in h.convs stands for it, so an
// idle open conversation costs one map entry less. The caller holds h.mu.
func (h *Hub) dialogOwner(d botrelay.DialogID) (botrelay.ConversationID, bool) {
	if id, ok := h.dialogs[d]; ok {
		return id, true
	}
	id := botrelay.ConversationID(d)
	if cs := h.convs[id]; cs != nil && cs.c != nil && cs.c.Dialog(d) != nil {
		return id, true
	}
	return "", false
}

func (h *Hub) unwait(id botrelay.ConversationID) {
	for i, w := range h.waiting {
		if w == id {
			h.waiting = append(h.waiting[:i], h.waiting[i+1:]...)
			return
		}
	}
}

// DropConnections closes every websocket with 1001 (going away) and keeps
// the hub running: sessions, conversations and routing stay, and clients
// may connect again. Tests use it to simulate a network outage, since
// http.Server.Close does not close hijacked (websocket) connections.
func (h *Hub) DropConnections() {
	h.mu.Lock()
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.close(CloseGoingAway, "connection dropped")
	}
}
