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
// ?skill=<name> (default "bot") and ?name=<display name>, and keeps its
// consumer token in localStorage so a reload continues the conversation.
// The agent console keeps its login in sessionStorage.
//
// Elements that tests and scripts may rely on carry stable ids and
// data-testid attributes: on the consumer page #messages (items
// [data-testid=message] with data-kind consumer|agent|bot|system),
// #message-input, #send, #file-input, #typing, #end-conversation, #status
// (data-state connecting|connected|closed) and [data-testid=quick-reply];
// in the console #login-username, #login-password, #login-submit,
// #login-error, #availability (data-state ONLINE|AWAY),
// [data-testid=accept-ring], [data-testid=conversation], #agent-messages
// (data-kind consumer|agent|bot|note|system), #agent-input,
// #quick-replies-input (comma-separated titles), #private-note, #agent-send,
// #consumer-typing, #transfer-skill, #transfer and #close-conversation.
package web

import (
	"embed"
	"io/fs"
)

//go:embed index.html agent.html static
var files embed.FS

// FS is the file tree the hub serves: index.html, agent.html and static/…
var FS fs.FS = files
