package hub

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
)

// Routes registers every hub route on mux: the domain lookup, agent login,
// the agent and consumer websockets, consumer tokens, files, skills, and the
// pages (/ and /agent and /static/).
//
// mux is an *http.ServeMux, or anything that takes the same patterns (in a
// cluster, a switch that sends them to the router's hub).
func (h *Hub) Routes(mux Mux) {
	mux.HandleFunc("GET /api/account/{account}/service/baseURI.json", h.handleBaseURI)
	mux.HandleFunc("POST /api/account/{account}/login", h.handleLogin)
	mux.HandleFunc("POST /api/account/{account}/refresh", h.handleRefresh)
	mux.HandleFunc("POST /api/account/{account}/logout", h.handleLogout)
	mux.HandleFunc("GET /api/account/{account}/skills", h.handleSkills)
	mux.HandleFunc("POST /api/account/{account}/consumer/token", h.handleConsumerToken)
	mux.HandleFunc("POST /api/account/{account}/consumer/files", h.handleUpload)
	mux.HandleFunc("GET /api/account/{account}/files/{path...}", h.handleDownload)
	// The agent console's helpers (console.go).
	mux.HandleFunc("GET /api/account/{account}/canned-replies", h.handleCannedReplies)
	mux.HandleFunc("GET /api/account/{account}/agents", h.handleAgents)
	mux.HandleFunc("POST /api/account/{account}/agent/files", h.handleAgentUpload)
	mux.HandleFunc("GET /ws_api/account/{account}/messaging/brand/{token}", h.handleAgentWS)
	mux.HandleFunc("GET /ws_api/account/{account}/messaging/consumer", h.handleConsumerWS)
	// The pages ask which account this hub serves; the id is public (it is
	// in every URL above).
	mux.HandleFunc("GET /api/hub/config", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_ = json.NewEncoder(w).Encode(map[string]string{"account": string(h.o.Account)})
	})

	page := func(name, frameAncestors string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := fs.ReadFile(h.web, name)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			hd := w.Header()
			hd.Set("Content-Type", "text/html; charset=utf-8")
			hd.Set("Cache-Control", "no-cache")
			setPageHeaders(hd, frameAncestors)
			_, _ = w.Write(b)
		}
	}
	mux.HandleFunc("GET /{$}", page("index.html", h.o.FrameAncestors))
	mux.HandleFunc("GET /agent", page("agent.html", ""))
	static := http.FileServerFS(h.web)
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w.Header(), "")
		static.ServeHTTP(w, r)
	}))
}

// Mux is where Routes registers the hub's routes.
type Mux interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// setPageHeaders sets the security headers of a page on hd: a
// Content-Security-Policy that allows scripts, styles and connections only
// from this server and nothing inline (images may also come from https
// URLs, as bots' structured content has them, and from data: and blob:),
// the frame-ancestors source list (empty: 'none', and X-Frame-Options
// DENY for old browsers), nosniff and no referrer.
func setPageHeaders(hd http.Header, frameAncestors string) {
	fa := strings.Join(strings.Fields(frameAncestors), " ")
	if fa == "" {
		fa = "'none'"
		hd.Set("X-Frame-Options", "DENY")
	} else {
		hd.Del("X-Frame-Options")
	}
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
		"img-src 'self' data: blob: https:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors "+fa)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
}
