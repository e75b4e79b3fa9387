package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/internal/provision"
)

// The conversation tester (spec F39): an operator chats with a bot's vendor
// from the dashboard and sees, for every turn, the translated reply and the
// vendor's raw request and response. It talks to the vendor directly with
// the bot's stored settings and secrets, whether or not the bot runs; it
// publishes nothing on the messaging platform, runs no hooks, carries out
// no action, and makes one vendor call per turn (no retries), so what it
// shows is the vendor's own answer.
//
// Tester conversations live in this process's memory: the vendor state
// between turns, keyed by a random conversation id the first turn returns.
// They end after testerTTL without a turn; a bot has at most
// testerPerBotMax of them and the process testerMax (the least recently
// used one goes first). A restart ends them all.

// Tester limits.
const (
	testerTTL       = 30 * time.Minute
	testerPerBotMax = 20
	testerMax       = 1000
	testerTextMax   = 10000
)

// testerSessions holds every API's tester conversations. It is shared by
// the process (not a field of API) because conversation ids are random and
// bound to their bot and user, so instances cannot see each other's.
var testerSessions = &testerStore{m: map[string]*testerSession{}}

// testerSession is one tester conversation.
type testerSession struct {
	id       string
	bot      botrelay.BotID
	user     botrelay.UserID
	turns    int
	state    json.RawMessage // the vendor state after the last turn
	lastUsed time.Time
	busy     bool
}

// testerStore is the tester conversations; safe for concurrent use.
type testerStore struct {
	mu sync.Mutex
	m  map[string]*testerSession
}

// sweep drops expired sessions, then the least recently used ones of bot
// (when bot is set) and of the process until one more fits. Busy sessions
// stay. The caller holds s.mu.
func (s *testerStore) sweep(now time.Time, bot botrelay.BotID) {
	for k, ts := range s.m {
		if !ts.busy && now.Sub(ts.lastUsed) > testerTTL {
			delete(s.m, k)
		}
	}
	evictOldest := func(match func(*testerSession) bool, limit int) {
		for {
			n := 0
			var oldest *testerSession
			for _, ts := range s.m {
				if !match(ts) {
					continue
				}
				n++
				if !ts.busy && (oldest == nil || ts.lastUsed.Before(oldest.lastUsed)) {
					oldest = ts
				}
			}
			if n < limit || oldest == nil {
				return
			}
			delete(s.m, oldest.id)
		}
	}
	if bot != "" {
		evictOldest(func(ts *testerSession) bool { return ts.bot == bot }, testerPerBotMax)
	}
	evictOldest(func(*testerSession) bool { return true }, testerMax)
}

// begin returns the session id of bot and user, marked busy, or a new one
// when id is empty. The caller calls end when the turn is over.
func (s *testerStore) begin(now time.Time, id string, bot botrelay.BotID, user botrelay.UserID) (testerSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" {
		s.sweep(now, bot)
		ts := &testerSession{id: "tester-" + auth.RandomToken(16), bot: bot, user: user, lastUsed: now, busy: true}
		s.m[ts.id] = ts
		return *ts, nil
	}
	s.sweep(now, "")
	ts := s.m[id]
	if ts == nil || ts.bot != bot || ts.user != user {
		return testerSession{}, botrelay.Errorf(botrelay.ENOTFOUND, "tester conversation %q does not exist or has ended; start a new one", id)
	}
	if ts.busy {
		return testerSession{}, botrelay.Errorf(botrelay.ECONFLICT, "tester conversation %s is waiting for the vendor; try again when its turn is over", id)
	}
	ts.busy = true
	ts.lastUsed = now
	return *ts, nil
}

// end records a finished turn: the turn count and, when state is not nil,
// the new vendor state.
func (s *testerStore) end(now time.Time, id string, state json.RawMessage) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.m[id]
	if ts == nil {
		return 0
	}
	ts.busy = false
	ts.lastUsed = now
	ts.turns++
	if state != nil {
		ts.state = state
	}
	return ts.turns
}

// converseRequest is the body of POST /bots/{id}/converse.
type converseRequest struct {
	// ConversationID continues a tester conversation; empty starts one.
	ConversationID string `json:"conversationId"`
	// Kind is TEXT (default) or START, the welcome event.
	Kind botrelay.TurnKind `json:"kind"`
	// Text is the consumer's message of a TEXT turn.
	Text string `json:"text"`
}

// converseResponse is one tester turn.
type converseResponse struct {
	ConversationID string            `json:"conversationId"`
	Turn           int               `json:"turn"`
	Kind           botrelay.TurnKind `json:"kind"`
	// Status is PROCESSED when the reply is usable, ERROR otherwise.
	Status string `json:"status"`
	// Reply is the translated reply (without the vendor state); null on
	// error.
	Reply *botrelay.Reply `json:"reply"`
	// Error is the failure: the conversation error-log code and a message.
	Error *testerError `json:"error,omitempty"`
	// Vendor is what went to and came from the vendor.
	Vendor     testerExchange `json:"vendor"`
	DurationMs int64          `json:"durationMs"`
}

type testerError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// testerExchange is a turn's vendor traffic. Raw is true when Request and
// Response are the vendor's own JSON (vendors with hooks support); false
// when they are botrelay's turn and translated reply, as Note says.
type testerExchange struct {
	Raw      bool            `json:"raw"`
	Request  json.RawMessage `json:"request"`
	Response json.RawMessage `json:"response"`
	Note     string          `json:"note,omitempty"`
}

// testerTurnJSON shows a Turn for vendors without raw access.
type testerTurnJSON struct {
	Kind             botrelay.TurnKind         `json:"kind"`
	ConversationID   botrelay.ConversationID   `json:"conversationId"`
	ConversationType botrelay.ConversationType `json:"conversationType"`
	Text             string                    `json:"text"`
	LPEvent          json.RawMessage           `json:"lpEvent"`
	SDEs             json.RawMessage           `json:"lpSdes"`
	HasVendorState   bool                      `json:"hasVendorState"`
}

const testerNoRawNote = "this vendor does not expose its raw request and response; shown are the turn botrelay sent and the reply it translated"

// converse runs one tester turn (POST /bots/{id}/converse, bot:edit).
func (a *API) converse(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := a.bot(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req converseRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := checkConverseRequest(&req, b); err != nil {
		a.writeError(w, r, err)
		return
	}
	vb, err := a.prov.VendorBot(b)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	defer provision.CloseVendorBot(vb)

	user := caller(ctx).user.ID
	ts, err := testerSessions.begin(a.o.Now(), req.ConversationID, b.ID, user)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var newState json.RawMessage
	defer func() { testerSessions.end(a.o.Now(), ts.id, newState) }()

	turn := testerTurnOf(req, ts, b, user)
	out := converseResponse{ConversationID: ts.id, Kind: req.Kind}
	var done bool
	if newState, done = a.runTesterTurn(ctx, vb, b, turn, &out); !done {
		return // the client went away
	}
	out.Vendor.fill(turn, out.Reply)
	out.Turn = ts.turns + 1
	writeJSON(w, http.StatusOK, out)
}

// checkConverseRequest checks a tester turn for b, defaulting its kind to
// TEXT.
func checkConverseRequest(req *converseRequest, b *botrelay.Bot) error {
	switch req.Kind {
	case "":
		req.Kind = botrelay.TurnText
	case botrelay.TurnText, botrelay.TurnStart:
	default:
		return botrelay.Errorf(botrelay.EINVALID, "kind must be TEXT or START")
	}
	if req.Kind == botrelay.TurnText && strings.TrimSpace(req.Text) == "" {
		return botrelay.Errorf(botrelay.EINVALID, "text is required for a TEXT turn")
	}
	if len(req.Text) > testerTextMax {
		return botrelay.Errorf(botrelay.EINVALID, "text must be at most %d bytes", testerTextMax)
	}
	if b.Type == botrelay.BotSurvey {
		return botrelay.Errorf(botrelay.EINVALID, "the conversation tester does not run survey bots")
	}
	return nil
}

// testerTurnOf makes the vendor turn of a tester request in session ts.
func testerTurnOf(req converseRequest, ts testerSession, b *botrelay.Bot, user botrelay.UserID) *botrelay.Turn {
	turn := &botrelay.Turn{Kind: req.Kind, Text: req.Text, VendorState: ts.state, SDEs: json.RawMessage(`{}`),
		Conversation: botrelay.ConversationRef{ID: botrelay.ConversationID(ts.id), DialogID: botrelay.DialogID(ts.id),
			Type: b.ConversationType, ConsumerID: botrelay.ConsumerID(fmt.Sprintf("tester-%d", user))}}
	if req.Kind == botrelay.TurnText {
		turn.LPEvent, _ = json.Marshal(map[string]string{"type": "ContentEvent", "contentType": "text/plain", "message": req.Text})
	} else {
		turn.LPEvent = json.RawMessage(`{}`)
		turn.Text = ""
	}
	return turn
}

// runTesterTurn sends turn to the vendor within the bot's vendor timeout
// and records the outcome in out. It returns the vendor state to keep, and
// false when the client went away.
func (a *API) runTesterTurn(ctx context.Context, vb botrelay.VendorBot, b *botrelay.Bot, turn *botrelay.Turn, out *converseResponse) (json.RawMessage, bool) {
	started := time.Now()
	cctx, cancel := context.WithTimeout(ctx, b.Settings.Limits.VendorTimeout())
	defer cancel()
	reply, err := a.testerTurn(cctx, vb, turn, &out.Vendor)
	if err == nil {
		err = checkTesterReply(b, reply)
	}
	out.DurationMs = time.Since(started).Milliseconds()
	if err == nil {
		shown := *reply
		shown.VendorState = nil
		out.Status, out.Reply = "PROCESSED", &shown
		return reply.VendorState, true
	}
	if ctx.Err() != nil {
		return nil, false
	}
	if cctx.Err() != nil && !errors.As(err, new(*botrelay.VendorError)) {
		err = botrelay.NewVendorError(botrelay.ErrVendorUnavailable, "tester.timeout",
			"the vendor did not answer within %v", b.Settings.Limits.VendorTimeout())
	}
	out.Status, out.Error = "ERROR", testerErrorOf(err)
	return nil, true
}

// fill shows botrelay's turn and translated reply when the vendor gave no
// raw request and response, and null for what is missing.
func (ex *testerExchange) fill(turn *botrelay.Turn, reply *botrelay.Reply) {
	if !ex.Raw {
		ex.Note = testerNoRawNote
		ex.Request, _ = json.Marshal(testerTurnJSON{Kind: turn.Kind, ConversationID: turn.Conversation.ID,
			ConversationType: turn.Conversation.Type, Text: turn.Text, LPEvent: turn.LPEvent, SDEs: turn.SDEs,
			HasVendorState: len(turn.VendorState) > 0})
		if reply != nil {
			ex.Response, _ = json.Marshal(reply)
		}
	}
	if len(ex.Request) == 0 {
		ex.Request = json.RawMessage("null")
	}
	if len(ex.Response) == 0 {
		ex.Response = json.RawMessage("null")
	}
}

// testerTurn makes the vendor call, capturing the raw request and response
// into ex when the vendor exposes them (botrelay.HookableBot), as the relay
// does for hooks but without running any.
func (a *API) testerTurn(ctx context.Context, vb botrelay.VendorBot, t *botrelay.Turn, ex *testerExchange) (*botrelay.Reply, error) {
	hb, ok := vb.(botrelay.HookableBot)
	if !ok {
		reply, err := vb.Converse(ctx, t)
		if err == nil && reply == nil {
			reply = &botrelay.Reply{}
		}
		return reply, err
	}
	ex.Raw = true
	req, err := hb.BuildRequest(ctx, t)
	if err != nil {
		return nil, err
	}
	ex.Request = validJSON(req)
	resp, state, err := hb.Exchange(ctx, t, req)
	if err != nil {
		return nil, err
	}
	ex.Response = validJSON(resp)
	reply, err := hb.ParseResponse(ctx, t, resp)
	if err != nil {
		return nil, err
	}
	if reply == nil {
		reply = &botrelay.Reply{}
	}
	if reply.VendorState == nil {
		reply.VendorState = state
	}
	return reply, nil
}

// validJSON returns raw, or raw as a JSON string when it is not JSON.
func validJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	if json.Valid(raw) {
		return raw
	}
	s, _ := json.Marshal(string(raw))
	return s
}

// checkTesterReply applies the relay's reply checks (F16) that the tester
// can tell without a platform: a reply must have a message, a delay or an
// action, and chat conversations take no quick replies.
func checkTesterReply(b *botrelay.Bot, r *botrelay.Reply) error {
	content := r.Action != nil
	for _, it := range r.Items {
		switch {
		case it.Delay != nil:
			content = true
		case it.Message != nil:
			m := it.Message
			if strings.TrimSpace(m.Text) == "" && len(m.StructuredContent) == 0 {
				continue
			}
			if len(m.QuickReplies) > 0 && b.ConversationType == botrelay.Chat {
				return botrelay.NewVendorError(botrelay.ErrVendorBadReply, "pipes.verify-ai-response.quick-replies-not-supported",
					"quick replies are not supported in chat conversations")
			}
			content = true
		}
	}
	if !content {
		if len(r.Skipped) > 0 {
			return botrelay.NewVendorError(botrelay.ErrVendorBadReply, "pipes.verify-ai-response.no-messages-and-not-supported-action",
				"the reply has no messages and only unsupported actions: %s", strings.Join(r.Skipped, ", "))
		}
		return botrelay.NewVendorError(botrelay.ErrVendorBadReply, "pipes.verify-ai-response.missing-action-and-messages",
			"the reply has neither messages nor an action")
	}
	return nil
}

// testerErrorOf is what the tester shows of a failed turn: the vendor
// error's code and message, or a generic code.
func testerErrorOf(err error) *testerError {
	var ve *botrelay.VendorError
	if errors.As(err, &ve) {
		return &testerError{Code: ve.Code, Message: ve.Message}
	}
	return &testerError{Code: "tester.failed", Message: vendorErrorText(err)}
}
