package liveperson

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
)

// queue hands events to the relay in the order the reader produced them,
// from one goroutine, so a slow HandleEvent never stalls the reader (which
// must keep reading for the answers the relay's own calls wait for).
type queue struct {
	mu     sync.Mutex
	items  []*botrelay.PlatformEvent
	signal chan struct{}
}

func newQueue() *queue { return &queue{signal: make(chan struct{}, 1)} }

func (q *queue) push(evs ...*botrelay.PlatformEvent) {
	if len(evs) == 0 {
		return
	}
	q.mu.Lock()
	q.items = append(q.items, evs...)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue) run(ctx context.Context, in botrelay.Inbound) {
	for {
		q.mu.Lock()
		items := q.items
		q.items = nil
		q.mu.Unlock()
		for _, ev := range items {
			if ctx.Err() != nil {
				return
			}
			in.HandleEvent(ctx, ev)
		}
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		}
	}
}

// convState is what the adapter knows of one conversation.
type convState struct {
	assigned bool   // we reported it assigned (or survey started)
	gen      uint64 // the subscription that last reported it
	ref      botrelay.ConversationRef
	dialogs  dialogTypes     // dialog id → dialog type
	main     string          // the main dialog's id
	context  json.RawMessage // the consumer's conversationContext

	// ctx is lpEvent's conversationContext of the conversation; nil until
	// computed (at the conversation's first turn) and when context
	// changes. A pointer, so that the many idle conversations that never
	// had a turn since the adapter started pay 8 bytes for it.
	ctx *ctxCache
}

// Notification and event names.
const (
	notifyConversations = ".ams.aam.ExConversationChangeNotification"
	notifyRoutingTask   = ".ams.routing.RoutingTaskNotification"
	notifyMessage       = ".ams.ms.OnlineEventDistribution"

	dialogMain   = "MAIN"
	dialogSurvey = "POST_SURVEY"
)

func (a *Adapter) notification(wc *wsConn, typ string, body json.RawMessage) {
	switch typ {
	case notifyConversations:
		wc.q.push(a.conversationChanges(wc, body)...)
	case notifyRoutingTask:
		wc.q.push(a.routingTasks(wc, body)...)
	case notifyMessage:
		if ev := a.messageEvent(body); ev != nil {
			wc.q.push(ev)
		}
	}
}

// convChangeBody is the body of ExConversationChangeNotification.
type convChangeBody struct {
	Changes []struct {
		Type   string `json:"type"`
		Result struct {
			ConvID              string      `json:"convId"`
			ConversationDetails convDetails `json:"conversationDetails"`
		} `json:"result"`
	} `json:"changes"`
}

type convDetails struct {
	ConvID          string              `json:"convId"`
	SkillID         json.RawMessage     `json:"skillId"`
	State           string              `json:"state"`
	Context         json.RawMessage     `json:"context"`
	Participants    json.RawMessage     `json:"participants"`
	ParticipantsPID map[string][]string `json:"participantsPId"`
	Dialogs         []struct {
		DialogID   string `json:"dialogId"`
		DialogType string `json:"dialogType"`
		State      string `json:"state"`
		// HandoffSequence is the hub's extension (docs/protocol.md); a real
		// LivePerson account does not send it.
		HandoffSequence *int64 `json:"handoffSequence"`
		// LastConsumerSequence is the hub's extension too: the sequence
		// of the dialog's last consumer event.
		LastConsumerSequence *int64 `json:"lastConsumerSequence"`
	} `json:"dialogs"`
}

// lastConsumer is the hub's lastConsumerSequence of the dialog, or nil.
func (d *convDetails) lastConsumer(dialog string) *int64 {
	for _, dl := range d.Dialogs {
		if dl.DialogID == dialog {
			return dl.LastConsumerSequence
		}
	}
	return nil
}

// participants reads participants as LivePerson's legacy map
// {"ROLE":["id"]} or as a list [{"id","role"}].
func (d *convDetails) participants() map[string][]string {
	out := map[string][]string{}
	raw := bytes.TrimSpace(d.Participants)
	if len(raw) == 0 {
		return out
	}
	if raw[0] == '{' {
		_ = json.Unmarshal(raw, &out)
		return out
	}
	var list []struct {
		ID   string `json:"id"`
		Role string `json:"role"`
	}
	if json.Unmarshal(raw, &list) == nil {
		for _, p := range list {
			out[p.Role] = append(out[p.Role], p.ID)
		}
	}
	return out
}

func parseSkillID(raw json.RawMessage) botrelay.SkillID {
	n, err := strconv.ParseInt(rawString(raw), 10, 64)
	if err != nil {
		return 0
	}
	return botrelay.SkillID(n)
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s != "" && s == v {
			return true
		}
	}
	return false
}

// scanDialogs records a conversation's dialogs in st and finds the open
// one: a survey dialog wins over the main one. A change without dialogs
// means the main dialog, open.
func (st *convState) scanDialogs(id string, d *convDetails) (open, openType string, mainOpen bool, handoff *int64) {
	for _, dl := range d.Dialogs {
		if dl.DialogID == "" {
			continue
		}
		if dl.DialogID == id {
			dl.DialogID = id // one copy of the id (a main dialog's is the conversation's)
		}
		st.dialogs.set(dl.DialogID, dl.DialogType)
		if dl.DialogType == dialogMain {
			st.main = dl.DialogID
			mainOpen = dl.State == "OPEN"
		}
		if dl.State == "OPEN" && (open == "" || dl.DialogType == dialogSurvey) {
			open, openType, handoff = dl.DialogID, dl.DialogType, dl.HandoffSequence
		}
	}
	if len(d.Dialogs) == 0 {
		open, openType, mainOpen = id, dialogMain, true
	}
	return open, openType, mainOpen, handoff
}

// conversationRef is the reference of a conversation whose open dialog is
// open (or, with none open, its main dialog), with its skill and consumer.
func (a *Adapter) conversationRef(id, open, main string, d *convDetails, parts map[string][]string) botrelay.ConversationRef {
	ref := botrelay.ConversationRef{
		ID:       botrelay.ConversationID(id),
		DialogID: botrelay.DialogID(open),
		Type:     botrelay.Messaging,
		SkillID:  parseSkillID(d.SkillID),
	}
	if ref.DialogID == "" {
		ref.DialogID = botrelay.DialogID(main)
	}
	if c := parts["CONSUMER"]; len(c) > 0 {
		ref.ConsumerID = botrelay.ConsumerID(c[0])
	} else if c := d.ParticipantsPID["CONSUMER"]; len(c) > 0 {
		ref.ConsumerID = botrelay.ConsumerID(c[0])
	}
	ref.SkillName = a.skillNames[ref.SkillID]
	return ref
}

// change is what a conversation change means for the bot.
type change struct {
	mine      bool   // the bot is the assigned agent of the open conversation
	survey    bool   // the open dialog is a survey
	fresh     bool   // first news of the conversation on this connection
	newDialog bool   // the open dialog is not the one last seen
	mainOpen  bool   // the main dialog is open
	state     string // the conversation's state
}

// assignment fills in ev's kind for a change of a conversation the bot
// holds or held, updating st.assigned; it reports false when the change
// means nothing for the bot.
func (a *Adapter) assignment(st *convState, ev *botrelay.PlatformEvent, c change) bool {
	switch {
	case c.mine && c.survey && !a.opts.SurveyBot:
		// An agent bot's conversation went on to its survey: not ours.
		if !st.assigned {
			return false
		}
		ev.Kind, ev.Closed = botrelay.EventUnassigned, !c.mainOpen
		st.assigned = false
	case c.mine && (!st.assigned || c.fresh):
		ev.Kind = botrelay.EventAssigned
		if c.survey {
			ev.Kind = botrelay.EventSurveyStarted
		}
		st.assigned = true
	case c.mine && c.survey && c.newDialog:
		ev.Kind = botrelay.EventSurveyStarted
	case !c.mine && st.assigned:
		ev.Kind = botrelay.EventUnassigned
		ev.Closed = c.state == "CLOSE" || (!c.mainOpen && !c.survey)
		st.assigned = false
	default:
		return false
	}
	return true
}

// conversationChanges turns a conversation change notification into
// assignment events.
func (a *Adapter) conversationChanges(wc *wsConn, body json.RawMessage) []*botrelay.PlatformEvent {
	var b convChangeBody
	if err := json.Unmarshal(body, &b); err != nil {
		a.log.Warn("liveperson: ignoring a malformed conversation notification")
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	me, pid := wc.st.legacyID, wc.st.userPID
	now := a.opts.Now()
	var out []*botrelay.PlatformEvent
	for _, ch := range b.Changes {
		d := ch.Result.ConversationDetails
		id := ch.Result.ConvID
		if id == "" {
			id = d.ConvID
		}
		if id == "" {
			continue
		}
		st := a.convs[id]
		if st == nil {
			st = &convState{main: id}
			st.ref = botrelay.ConversationRef{ID: botrelay.ConversationID(id), DialogID: botrelay.DialogID(id), Type: botrelay.Messaging}
		}
		fresh := st.gen != wc.gen
		st.gen = wc.gen
		if ch.Type == "DELETE" {
			if st.assigned {
				ref := st.ref
				out = append(out, &botrelay.PlatformEvent{Kind: botrelay.EventUnassigned, Conversation: ref,
					Closed: d.State == "CLOSE" || d.State == "", At: now})
			}
			delete(a.convs, id)
			continue
		}

		parts := d.participants()
		mine := d.State == "OPEN" && (contains(parts["ASSIGNED_AGENT"], me) || contains(parts["ASSIGNED_AGENT"], pid) ||
			contains(d.ParticipantsPID["ASSIGNED_AGENT"], pid))
		open, openType, mainOpen, handoff := st.scanDialogs(id, &d)
		prevDialog := st.ref.DialogID
		ref := a.conversationRef(id, open, st.main, &d, parts)
		st.ref = ref
		survey := openType == dialogSurvey
		ev := &botrelay.PlatformEvent{Conversation: ref, Context: nonEmpty(d.Context), At: now}
		if handoff != nil {
			ev.Handoff, ev.HandoffKnown = *handoff, true
		}
		if lc := d.lastConsumer(open); lc != nil {
			ev.LastConsumer, ev.LastConsumerKnown = *lc, true
		}
		if ev.Context != nil {
			st.context, st.ctx = a.sharedContext(ev.Context), nil
			ev.Context = st.context
		}

		if a.assignment(st, ev, change{mine: mine, survey: survey, fresh: fresh,
			newDialog: prevDialog != ref.DialogID, mainOpen: mainOpen, state: d.State}) {
			out = append(out, ev)
		}
		if d.State == "CLOSE" {
			delete(a.convs, id)
		} else {
			a.convs[id] = st
		}
	}
	return out
}

func nonEmpty(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return append(json.RawMessage(nil), raw...)
}

// routingTaskBody is the body of RoutingTaskNotification.
type routingTaskBody struct {
	Changes []struct {
		Type   string `json:"type"`
		Result struct {
			ConversationID string          `json:"conversationId"`
			ConsumerID     string          `json:"consumerId"`
			SkillID        json.RawMessage `json:"skillId"`
			RingsDetails   []struct {
				RingID    string `json:"ringId"`
				RingState string `json:"ringState"`
			} `json:"ringsDetails"`
		} `json:"result"`
	} `json:"changes"`
}

// routingTasks handles rings: accepted at once under RingAcceptAuto,
// delivered as EventRing otherwise. Each ring is handled once.
func (a *Adapter) routingTasks(wc *wsConn, body json.RawMessage) []*botrelay.PlatformEvent {
	var b routingTaskBody
	if err := json.Unmarshal(body, &b); err != nil {
		a.log.Warn("liveperson: ignoring a malformed routing task notification")
		return nil
	}
	now := a.opts.Now()
	var out []*botrelay.PlatformEvent
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ch := range b.Changes {
		r := ch.Result
		for _, ring := range r.RingsDetails {
			if ring.RingID == "" {
				continue
			}
			if ch.Type == "DELETE" || ring.RingState != "WAITING" {
				delete(a.rings, ring.RingID)
				continue
			}
			if a.rings[ring.RingID] {
				continue
			}
			if len(a.rings) > 10000 { // rings that never ended; forget them
				a.rings = map[string]bool{}
			}
			a.rings[ring.RingID] = true
			ref := botrelay.ConversationRef{
				ID:         botrelay.ConversationID(r.ConversationID),
				DialogID:   botrelay.DialogID(r.ConversationID),
				Type:       botrelay.Messaging,
				ConsumerID: botrelay.ConsumerID(r.ConsumerID),
				SkillID:    parseSkillID(r.SkillID),
			}
			ref.SkillName = a.skillNames[ref.SkillID]
			if a.opts.RingAccept == RingAcceptManual {
				out = append(out, &botrelay.PlatformEvent{Kind: botrelay.EventRing, RingID: ring.RingID, Conversation: ref, At: now})
				continue
			}
			ringID := ring.RingID
			go func() {
				if _, err := wc.request(wc.ctx, ".ams.routing.UpdateRingState",
					map[string]string{"ringId": ringID, "ringState": "ACCEPTED"}, nil, ""); err != nil && wc.ctx.Err() == nil {
					a.log.Warn("liveperson: accepting a ring failed", "ring", ringID, "conversation", ref.ID, "err", err)
				}
			}()
		}
	}
	return out
}

// msgEvent is one message event: the body of OnlineEventDistribution and
// an item of a QueryMessages answer.
type msgEvent struct {
	Sequence           int64  `json:"sequence"`
	ConversationID     string `json:"conversationId"`
	DialogID           string `json:"dialogId"`
	ServerTimestamp    int64  `json:"serverTimestamp"`
	OriginatorID       string `json:"originatorId"`
	OriginatorMetadata struct {
		ID   string `json:"id"`
		Role string `json:"role"`
	} `json:"originatorMetadata"`
	Event    json.RawMessage `json:"event"`
	Metadata json.RawMessage `json:"metadata"`
}

// messageEvent turns a live message notification into an event, for a
// conversation the bot holds.
func (a *Adapter) messageEvent(body json.RawMessage) *botrelay.PlatformEvent {
	var m msgEvent
	if err := json.Unmarshal(body, &m); err != nil {
		a.log.Warn("liveperson: ignoring a malformed message notification")
		return nil
	}
	var e eventFields
	if json.Unmarshal(m.Event, &e) != nil {
		e = eventFields{} // read as no event: the translation drops it
	}
	return a.messageEventOf(&m, &e, body)
}

// messageEventOf is messageEvent for a decoded notification: m its body
// and e its event.
func (a *Adapter) messageEventOf(m *msgEvent, e *eventFields, body json.RawMessage) *botrelay.PlatformEvent {
	a.mu.Lock()
	st := a.findConv(m.ConversationID, m.DialogID)
	var ref botrelay.ConversationRef
	if st != nil && st.assigned {
		ref = st.ref
		ref.DialogID = botrelay.DialogID(m.DialogID)
	}
	a.mu.Unlock()
	if ref.ID == "" {
		return nil // not (or no longer) ours; History covers any race
	}
	return a.consumerEventOf(m, e, body, ref)
}

// findConv finds a conversation by id or by one of its dialogs. a.mu is
// held.
func (a *Adapter) findConv(convID, dialogID string) *convState {
	if st := a.convs[convID]; convID != "" && st != nil {
		return st
	}
	if st := a.convs[dialogID]; st != nil {
		return st
	}
	for _, st := range a.convs {
		if _, ok := st.dialogs.get(dialogID); ok {
			return st
		}
	}
	return nil
}

// eventFields is what the adapter reads of a message event's event.
type eventFields struct {
	Type        string          `json:"type"`
	ContentType string          `json:"contentType"`
	Message     json.RawMessage `json:"message"`
	Content     json.RawMessage `json:"content"`
	ChatState   string          `json:"chatState"`
}

// consumerEvent translates a consumer's message event; it returns nil for
// events of other participants and events the relay does not handle.
func (a *Adapter) consumerEvent(m *msgEvent, raw json.RawMessage, ref botrelay.ConversationRef) *botrelay.PlatformEvent {
	var e eventFields
	if json.Unmarshal(m.Event, &e) != nil {
		return nil
	}
	return a.consumerEventOf(m, &e, raw, ref)
}

// consumerEventOf is consumerEvent with m's event decoded as e.
func (a *Adapter) consumerEventOf(m *msgEvent, e *eventFields, raw json.RawMessage, ref botrelay.ConversationRef) *botrelay.PlatformEvent {
	role := m.OriginatorMetadata.Role
	if role == "" && (m.OriginatorID == "" || m.OriginatorID != string(ref.ConsumerID)) {
		return nil
	}
	if role != "" && role != "CONSUMER" {
		return nil
	}
	at := a.opts.Now()
	if m.ServerTimestamp > 0 {
		at = time.UnixMilli(m.ServerTimestamp)
	}
	ev := &botrelay.PlatformEvent{
		Conversation: ref,
		Sequence:     m.Sequence,
		Metadata:     nonEmpty(m.Metadata),
		Raw:          a.lpEvent(raw, ref),
		At:           at,
	}
	switch e.Type {
	case "ContentEvent":
		ev.Kind = botrelay.EventConsumerMessage
		switch e.ContentType {
		case "hosted/file":
			var f struct {
				RelativePath string `json:"relativePath"`
				FileType     string `json:"fileType"`
				Caption      string `json:"caption"`
			}
			if json.Unmarshal(e.Message, &f) != nil || f.RelativePath == "" {
				return nil
			}
			ev.File = &botrelay.File{RelativePath: f.RelativePath, FileType: f.FileType, Caption: f.Caption}
		default:
			var text string
			if json.Unmarshal(e.Message, &text) != nil {
				return nil
			}
			ev.Text = text
		}
	case "RichContentEvent":
		if len(nonEmpty(e.Content)) == 0 {
			return nil
		}
		ev.Kind = botrelay.EventConsumerMessage
		ev.RichContent = nonEmpty(e.Content)
	case "ChatStateEvent":
		switch e.ChatState {
		case "COMPOSING":
			ev.Typing = true
		case "ACTIVE", "PAUSE", "INACTIVE", "GONE":
		default:
			return nil
		}
		ev.Kind = botrelay.EventConsumerTyping
		ev.Sequence = 0
	default: // AcceptStatusEvent and anything else
		return nil
	}
	return ev
}

// sweepStale runs once the subscriptions are answered, and so after the
// subscription's first notification listed the open conversations the bot
// holds: a conversation the bot held before a reconnect that is not listed
// any more closed or left the bot meanwhile. It is reported unassigned
// (Closed false: the adapter cannot tell which).
func (a *Adapter) sweepStale(wc *wsConn) []*botrelay.PlatformEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*botrelay.PlatformEvent
	for id, st := range a.convs {
		if st.gen == wc.gen {
			continue
		}
		if st.assigned {
			out = append(out, &botrelay.PlatformEvent{Kind: botrelay.EventUnassigned, Conversation: st.ref, At: a.opts.Now()})
		}
		delete(a.convs, id)
	}
	return out
}
