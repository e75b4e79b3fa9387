package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"
)

// api is a small client of the management REST API (docs/api.md): the
// bench creates its skill, bot users and bots through it, as an operator
// would, so it works against a server it did not start.
type api struct {
	base string
	hc   *http.Client
	csrf string
}

func login(ctx context.Context, base, user, password string) (*api, error) {
	jar, _ := cookiejar.New(nil)
	a := &api{base: strings.TrimRight(base, "/"), hc: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
	var out struct {
		CSRFToken string `json:"csrfToken"`
	}
	if err := a.do(ctx, http.MethodPost, "/api/v1/login", map[string]string{"loginName": user, "password": password}, &out); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", user, err)
	}
	a.csrf = out.CSRFToken
	return a, nil
}

func (a *api) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.csrf != "" {
		req.Header.Set("X-CSRF-Token", a.csrf)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return &httpError{Method: method, Path: path, Status: resp.StatusCode, Body: string(bytes.TrimSpace(data))}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

type httpError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

type idName struct {
	ID   json.Number `json:"id"`
	Name string      `json:"name"`
}

// ensureSkill returns the id of the skill, creating it when missing.
func (a *api) ensureSkill(ctx context.Context, name string) (json.Number, error) {
	var skills []idName
	if err := a.do(ctx, http.MethodGet, "/api/v1/skills", nil, &skills); err != nil {
		return "", err
	}
	for _, s := range skills {
		if s.Name == name {
			return s.ID, nil
		}
	}
	var s idName
	err := a.do(ctx, http.MethodPost, "/api/v1/skills", map[string]any{"name": name, "description": "botrelay bench"}, &s)
	return s.ID, err
}

func (a *api) profileID(ctx context.Context, name string) (json.Number, error) {
	var ps []idName
	if err := a.do(ctx, http.MethodGet, "/api/v1/profiles", nil, &ps); err != nil {
		return "", err
	}
	for _, p := range ps {
		if p.Name == name {
			return p.ID, nil
		}
	}
	return "", fmt.Errorf("no profile named %q", name)
}

// vendors lists the server's vendor ids.
func (a *api) vendors(ctx context.Context) ([]string, error) {
	var vs []struct {
		ID string `json:"id"`
	}
	if err := a.do(ctx, http.MethodGet, "/api/v1/vendors", nil, &vs); err != nil {
		return nil, err
	}
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.ID)
	}
	return ids, nil
}

// createBot creates a bot user on skill and a started bot with the vendor,
// capped at maxOpen conversations, and returns the bot id.
func (a *api) createBot(ctx context.Context, name string, profile, skill json.Number, vendor string, vendorSettings any, maxOpen int) (string, error) {
	var u struct {
		User struct {
			ID json.Number `json:"id"`
		} `json:"user"`
	}
	slots := maxOpen + 1
	if err := a.do(ctx, http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": name, "nickname": name,
		"profileId": profile, "messagingSlots": slots, "skillIds": []json.Number{skill}}, &u); err != nil {
		return "", err
	}
	var b struct {
		ID string `json:"id"`
	}
	err := a.do(ctx, http.MethodPost, "/api/v1/bots", map[string]any{"name": name, "vendor": vendor, "userId": u.User.ID,
		"type": "AGENT", "conversationType": "MESSAGING",
		"settings": map[string]any{
			"vendor": vendorSettings,
			"errorHandling": map[string]any{"escalationSkill": "human", "messageToConsumer": "bench: escalated",
				"messageToAgent": "bench: escalated", "transferFailureMessage": "bench: transfer failed"},
			"limits": map[string]any{"maxOpenConversations": maxOpen},
		}}, &b)
	if err != nil {
		return "", err
	}
	return b.ID, a.do(ctx, http.MethodPost, "/api/v1/bots/"+b.ID+"/start", map[string]any{}, nil)
}

// stopOthers stops every started bot of the account (a new data folder
// has a started demo bot).
func (a *api) stopOthers(ctx context.Context) error {
	var bots []struct {
		ID      string `json:"id"`
		Started bool   `json:"started"`
	}
	if err := a.do(ctx, http.MethodGet, "/api/v1/bots", nil, &bots); err != nil {
		return err
	}
	for _, b := range bots {
		if b.Started {
			if err := a.do(ctx, http.MethodPost, "/api/v1/bots/"+b.ID+"/stop", map[string]any{}, nil); err != nil {
				return fmt.Errorf("stop bot %s: %w", b.ID, err)
			}
		}
	}
	return nil
}

type botStatus struct {
	State             string `json:"state"`
	OpenConversations int    `json:"openConversations"`
}

func (a *api) botStatus(ctx context.Context, id string) (botStatus, error) {
	var s botStatus
	err := a.do(ctx, http.MethodGet, "/api/v1/bots/"+id+"/status", nil, &s)
	return s, err
}

// waitOnline waits until every bot is ONLINE.
func (a *api) waitOnline(ctx context.Context, ids []string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, id := range ids {
		for {
			s, err := a.botStatus(ctx, id)
			if err != nil {
				return err
			}
			if s.State == "ONLINE" {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("bot %s is %s, not ONLINE, after %v", id, s.State, d)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}
