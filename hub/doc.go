// Package hub is botrelay's embedded messaging platform. It speaks the
// LivePerson-compatible agent messaging protocol (domain lookup, agent login,
// the UMS websocket) so that the liveperson platform adapter and LivePerson's
// own node-agent-sdk can connect to it, and a consumer protocol with the
// same frame format for the web messaging page. docs/protocol.md describes
// both sides.
//
// Conversations, dialogs, participants and message events live in the store,
// and so do agent sessions (by the hashes of their tokens) and uploaded
// files, so that they are valid on every node of a cluster and a restart
// keeps them: an agent reconnects with the same bearer. Routing (agent
// states, waiting conversations, rings) lives in memory and is rebuilt by
// Run.
//
// # Where things are
//
// HTTP routes and pages are in routes.go. The two websockets and the tables
// from request type to handler (agentHandlers, consumerHandlers) are in
// requests.go; conn.go reads frames and writes answers, lanes.go runs the
// requests about one conversation in order. The handlers are grouped by
// family:
//
//   - login.go: agent login, refresh, logout; sessions.go: agent sessions
//     in the store and the in-memory cache of them (how long a node trusts
//     it, the re-checks); auth.go: the session type, bearers, users,
//     skills list.
//   - consumer.go: consumer tokens and the consumer's conversation
//     subscriptions.
//   - conversations.go: request (open) a conversation, look one up, mutate
//     one; update.go: UpdateConversationField (participants, transfer,
//     close, survey, TTR).
//   - messaging.go: publish, deliver, query and subscribe to messages;
//     files.go: uploads (in the store) and signed download links.
//   - subscriptions.go: ExConversations and agent-state subscriptions, and
//     the change notifications they get; convert.go renders conversations
//     and events for the wire.
//   - routing.go: agent states, rings, the waiting queue; survey.go: which
//     bot runs post-conversation surveys.
//   - split.go: traffic splitting among weighted bots (dispatch's pick,
//     its round-robin state under Hub.mu); handback.go: a bot's conversation
//     handed back from outside its session (publishAs and mutate, so
//     convState.op then Hub.mu, as publish).
//   - stats.go: the figures /metrics reads (connections, waiting
//     conversations, rings), under Hub.mu alone.
//
// # Locks
//
// The hub has these locks:
//
//   - Hub.mu guards every in-memory map of the Hub (conversations, dialogs,
//     rings, the waiting queue, sessions, connections, load, the user
//     cache), every convState field but op and the sequence cache, every
//     session field that changes (state, conn, expires, checked,
//     lastRing), and
//     every conn's subscription fields (convSubs, routingSub, stateSub,
//     msgSubs). Sessions and conns have no lock of their own. Hub.mu is
//     never held during I/O (store calls, websocket writes): notifications
//     are queued with conn.send, which never blocks.
//   - convState.op (one per open conversation) serialises the writes of
//     that conversation: it is held across the store write (AppendEvent,
//     UpdateConversation), and Hub.mu is taken inside it to install the new
//     state and notify. It also guards convState.seqDialog and seq. publish,
//     mutate (conversation updates, accepting a ring) and subscribeMessaging
//     take it; no code holds two conversations' op at once.
//   - Hub.createMu serialises conversation creation (requestConversation),
//     so that a consumer gets one open conversation; it is held across the
//     store write, and Hub.mu is taken inside it. It is never held together
//     with a convState.op.
//   - lanes.mu (one per connection) guards that connection's lane queues;
//     it is taken by nothing else and no other lock is taken under it.
//   - Leaf locks taken under Hub.mu: conn.doneOnce (conn.close, also from
//     conn.send when the queue is full; it only closes a channel and starts
//     a goroutine), the ring timers' Stop, and the logger's.
//   - The limits (Options.Logins, Options.Consumers) and the store have
//     locks of their own; the hub calls them under createMu or convState.op
//     at most, never under Hub.mu.
//
// Lock order: convState.op or Hub.createMu (never both), then Hub.mu, then
// the leaf locks. The ring timers (expireRing), the session sweep and the
// session re-checks take Hub.mu alone, and release it while they read the
// store: a session looked up in the store is installed under Hub.mu after
// the read (a session a concurrent login or logout changed meanwhile is
// not brought back).
package hub
