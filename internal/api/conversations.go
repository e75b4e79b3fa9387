package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// defaultConversationPage is the page size of GET /api/v1/conversations
// without ?limit.
const defaultConversationPage = 50

type refJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type consumerJSON struct {
	ID   botrelay.ConsumerID `json:"id"`
	Name string              `json:"name"`
}

type skillRefJSON struct {
	ID   botrelay.SkillID `json:"id"`
	Name string           `json:"name"`
}

type userRefJSON struct {
	ID   botrelay.UserID   `json:"id"`
	Name string            `json:"name"`
	Type botrelay.UserType `json:"type"`
}

type participantJSON struct {
	User  userRefJSON               `json:"user"`
	Role  botrelay.ParticipantRole  `json:"role"`
	State botrelay.ParticipantState `json:"state"`
}

type conversationJSON struct {
	ID           botrelay.ConversationID    `json:"id"`
	Consumer     consumerJSON               `json:"consumer"`
	Skill        skillRefJSON               `json:"skill"`
	State        botrelay.ConversationState `json:"state"`
	TTR          botrelay.TTRType           `json:"ttr"`
	CloseReason  string                     `json:"closeReason"`
	Bots         []refJSON                  `json:"bots"`
	Participants []participantJSON          `json:"participants"`
	CreatedAt    string                     `json:"createdAt"`
	UpdatedAt    string                     `json:"updatedAt"`
	ClosedAt     *string                    `json:"closedAt"`
}

type conversationPageJSON struct {
	Conversations []conversationJSON `json:"conversations"`
	NextCursor    *string            `json:"nextCursor"`
}

// names resolves skill, user and bot names for one response, reading each
// from the store once. Deleted records keep their ids and get a
// placeholder name.
type names struct {
	a      *API
	ctx    context.Context
	skills map[botrelay.SkillID]string
	users  map[botrelay.UserID]*botrelay.User
	bots   map[botrelay.BotID]string
}

func (a *API) newNames(ctx context.Context) *names {
	return &names{a: a, ctx: ctx, users: map[botrelay.UserID]*botrelay.User{}, bots: map[botrelay.BotID]string{}}
}

func (n *names) skill(id botrelay.SkillID) skillRefJSON {
	if n.skills == nil {
		n.skills = map[botrelay.SkillID]string{}
		if list, err := n.a.o.Store.Skills(n.ctx, n.a.o.Account); err == nil {
			for _, s := range list {
				n.skills[s.ID] = s.Name
			}
		}
	}
	name, ok := n.skills[id]
	if !ok {
		name = "skill " + strconv.FormatInt(int64(id), 10)
	}
	return skillRefJSON{ID: id, Name: name}
}

func (n *names) user(id botrelay.UserID) userRefJSON {
	u, ok := n.users[id]
	if !ok {
		u, _ = n.a.o.Store.User(n.ctx, id)
		if u != nil && u.AccountID != n.a.o.Account {
			u = nil
		}
		n.users[id] = u
	}
	if u == nil {
		return userRefJSON{ID: id, Name: "user " + strconv.FormatInt(int64(id), 10)}
	}
	name := u.Nickname
	if name == "" {
		name = u.LoginName
	}
	return userRefJSON{ID: id, Name: name, Type: u.Type}
}

func (n *names) bot(id botrelay.BotID) refJSON {
	name, ok := n.bots[id]
	if !ok {
		name = string(id)
		if b, err := n.a.o.Store.Bot(n.ctx, id); err == nil && b.AccountID == n.a.o.Account {
			name = b.Name
		}
		n.bots[id] = name
	}
	return refJSON{ID: string(id), Name: name}
}

// toConversationJSON renders a conversation's summary.
func (n *names) conversation(c *botrelay.Conversation, bots []botrelay.BotID) conversationJSON {
	j := conversationJSON{ID: c.ID, Consumer: consumerJSON{ID: c.ConsumerID, Name: botrelay.ConsumerDisplayName(c.ConsumerID, c.Context)},
		Skill: n.skill(c.SkillID), State: c.State, TTR: c.TTR, CloseReason: c.CloseReason, Bots: []refJSON{},
		Participants: []participantJSON{}, CreatedAt: timeString(c.CreatedAt), UpdatedAt: timeString(c.UpdatedAt)}
	for _, b := range bots {
		j.Bots = append(j.Bots, n.bot(b))
	}
	for _, p := range c.Participants {
		if p.UserID != 0 {
			j.Participants = append(j.Participants, participantJSON{User: n.user(p.UserID), Role: p.Role, State: p.State})
		}
	}
	if !c.ClosedAt.IsZero() {
		t := timeString(c.ClosedAt)
		j.ClosedAt = &t
	}
	return j
}

// searchParams are the query parameters GET /api/v1/conversations knows.
var searchParams = []string{"consumer", "bot", "skill", "state", "from", "to", "limit", "cursor"}

// listConversations searches the account's conversations, newest first,
// one page at a time. Without conversation:view-all the caller sees only
// conversations they took part in.
func (a *API) listConversations(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q, err := a.searchQuery(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if p := caller(ctx); !p.profile.Has(botrelay.PermConvViewAll) {
		q.Participant = p.user.ID
	}
	list, err := a.o.Store.SearchConversations(ctx, a.o.Account, q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	ids := make([]botrelay.ConversationID, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	bots, err := a.o.Store.ConversationBots(ctx, ids)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	n := a.newNames(ctx)
	out := conversationPageJSON{Conversations: make([]conversationJSON, 0, len(list))}
	for _, c := range list {
		out.Conversations = append(out.Conversations, n.conversation(c, bots[c.ID]))
	}
	if len(list) == q.Limit {
		last := list[len(list)-1]
		cur := encodeCursor(botrelay.ConversationCursor{CreatedAt: last.CreatedAt, ID: last.ID})
		out.NextCursor = &cur
	}
	writeJSON(w, http.StatusOK, out)
}

// searchQuery reads and checks the search parameters; anything malformed
// or unknown is EINVALID.
func (a *API) searchQuery(ctx context.Context, r *http.Request) (botrelay.ConversationQuery, error) {
	v := r.URL.Query()
	for k := range v {
		if !slices.Contains(searchParams, k) {
			return botrelay.ConversationQuery{}, botrelay.Errorf(botrelay.EINVALID,
				"unknown query parameter %q; use %s", k, strings.Join(searchParams, ", "))
		}
		if len(v[k]) > 1 {
			return botrelay.ConversationQuery{}, botrelay.Errorf(botrelay.EINVALID, "query parameter %q is given more than once", k)
		}
	}
	q := botrelay.ConversationQuery{Consumer: strings.TrimSpace(v.Get("consumer"))}
	var err error
	if q.Limit, err = queryLimit(r, defaultConversationPage, botrelay.MaxConversationSearch); err != nil {
		return q, err
	}
	switch strings.ToLower(v.Get("state")) {
	case "":
	case "open":
		q.State = botrelay.ConversationOpen
	case "closed", "close":
		q.State = botrelay.ConversationClose
	default:
		return q, botrelay.Errorf(botrelay.EINVALID, "state must be open or closed")
	}
	if q.From, err = queryTime(v.Get("from"), "from"); err != nil {
		return q, err
	}
	if q.To, err = queryTime(v.Get("to"), "to"); err != nil {
		return q, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, botrelay.Errorf(botrelay.EINVALID, "from must be before to")
	}
	if s := v.Get("cursor"); s != "" {
		c, ok := decodeCursor(s)
		if !ok {
			return q, botrelay.Errorf(botrelay.EINVALID, "cursor is not one this API returned as nextCursor")
		}
		q.After = &c
	}
	if q.BotID, err = a.botRef(ctx, v.Get("bot")); err != nil {
		return q, err
	}
	q.SkillID, err = a.skillRef(ctx, v.Get("skill"))
	return q, err
}

// queryTime parses an RFC 3339 time parameter ("" is the zero time).
func queryTime(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, botrelay.Errorf(botrelay.EINVALID, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", name)
	}
	return t, nil
}

// botRef finds a bot of the account by id or name ("" is no bot).
func (a *API) botRef(ctx context.Context, ref string) (botrelay.BotID, error) {
	if ref == "" {
		return "", nil
	}
	if b, err := a.o.Store.Bot(ctx, botrelay.BotID(ref)); err == nil && b.AccountID == a.o.Account {
		return b.ID, nil
	} else if err != nil && botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
		return "", err
	}
	bots, err := a.o.Store.Bots(ctx, a.o.Account)
	if err != nil {
		return "", err
	}
	for _, b := range bots {
		if strings.EqualFold(b.Name, ref) {
			return b.ID, nil
		}
	}
	return "", botrelay.Errorf(botrelay.EINVALID, "bot %q does not exist; give a bot id or name", ref)
}

// skillRef finds a skill of the account by id or name ("" is no skill).
func (a *API) skillRef(ctx context.Context, ref string) (botrelay.SkillID, error) {
	if ref == "" {
		return 0, nil
	}
	skills, err := a.o.Store.Skills(ctx, a.o.Account)
	if err != nil {
		return 0, err
	}
	for _, s := range skills {
		if strconv.FormatInt(int64(s.ID), 10) == ref || s.Name == ref {
			return s.ID, nil
		}
	}
	return 0, botrelay.Errorf(botrelay.EINVALID, "skill %q does not exist; give a skill id or name", ref)
}

// encodeCursor and decodeCursor turn a search position into an opaque
// string and back.
func encodeCursor(c botrelay.ConversationCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMilli(), 10) + "." + string(c.ID)))
}

func decodeCursor(s string) (botrelay.ConversationCursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return botrelay.ConversationCursor{}, false
	}
	ms, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || n <= 0 || id == "" {
		return botrelay.ConversationCursor{}, false
	}
	return botrelay.ConversationCursor{CreatedAt: time.UnixMilli(n).UTC(), ID: botrelay.ConversationID(id)}, true
}

// visibleConversation returns the conversation of the path when the caller
// may see it: with conversation:view-all any of the account, else only one
// they took part in. Others are ENOTFOUND, like missing ones, so ids
// cannot be probed.
func (a *API) visibleConversation(ctx context.Context, r *http.Request) (*botrelay.Conversation, error) {
	id := botrelay.ConversationID(r.PathValue("id"))
	notFound := botrelay.Errorf(botrelay.ENOTFOUND, "conversation %s does not exist", id)
	c, err := a.o.Store.Conversation(ctx, id)
	if botrelay.ErrorCode(err) == botrelay.ENOTFOUND || err == nil && c.AccountID != a.o.Account {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	if p := caller(ctx); !p.profile.Has(botrelay.PermConvViewAll) {
		ok, err := a.o.Store.Participated(ctx, id, p.user.ID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, notFound
		}
	}
	return c, nil
}
