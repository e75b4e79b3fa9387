// Package web holds the hub's browser pages: the consumer messaging page
// (index.html, served at /), the agent console (agent.html, served at /agent)
// and their static assets (served at /static/<file>).
//
// The pages are plain HTML, CSS and JavaScript with no build step and no
// external resources. They speak the hub's consumer and agent messaging
// protocols over a websocket on the same origin.
//
// Both pages take ?account=<id>; without it they ask GET /api/hub/config
// for {"account"} and fall back to "1000". The consumer page also takes
// ?skill=<name> (default "bot") and ?name=<display name> (sent to agents as
// the personal engagement attribute of the conversation context), and keeps its
// consumer token in localStorage so a reload continues the conversation.
// The agent console keeps its login in sessionStorage.
//
// Elements that tests and scripts may rely on carry stable ids and
// data-testid attributes: on the consumer page #messages (items
// [data-testid=message] with data-kind consumer|agent|bot|system),
// #message-input, #send, #file-input, #typing, #end-conversation, #status
// (data-state connecting|connected|closed) and [data-testid=quick-reply];
// in the console #login-username, #login-password, #login-submit,
// #login-error, #availability (a switch: data-state ONLINE|AWAY,
// aria-checked), #enable-alerts, rings [data-testid=ring] with
// [data-testid=ring-consumer], [data-testid=ring-preview],
// [data-testid=ring-waited] and [data-testid=accept-ring],
// [data-testid=conversation] in #conversations (open) or
// #closed-conversations (in the <details> #closed-section), #agent-messages
// (data-kind consumer|agent|bot|note|system), #agent-input, #canned-list
// with [data-testid=canned-item], #agent-file, #quick-replies-input
// (comma-separated titles), #private-note, #agent-send, #consumer-typing,
// #transfer-open, the #transfer-panel form with #transfer-skill,
// #transfer-agent, #transfer-note, #transfer and #transfer-cancel, and
// #close-conversation. docs/agent-console.md describes the console.
package web

import (
	"embed"
	"io/fs"
)

//go:embed index.html agent.html static
var files embed.FS

// FS is the file tree the hub serves: index.html, agent.html and static/…
var FS fs.FS = files
