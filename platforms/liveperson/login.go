package liveperson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/botrelay/botrelay"
)

// ErrLoginRejected is wrapped by the error Run returns when the login
// service refuses the API-key login (bad or revoked credentials, a
// disabled user): retrying cannot help.
var ErrLoginRejected = errors.New("liveperson: login rejected")

// ErrSessionReplaced is wrapped by the error Run returns when the platform
// closed the websocket because the same user logged in elsewhere: another
// process runs this bot user, and fighting over the session would only evict
// each other.
var ErrSessionReplaced = errors.New("liveperson: session replaced by another login of the same user")

// CSDS service names the adapter reads.
const (
	serviceAgentVep      = "agentVep"
	serviceMessaging     = "asyncMessagingEnt"
	serviceAccountConfig = "accountConfigReadOnly"
)

// domains are the hosts the domain lookup returned.
type domains struct {
	agentVep      string
	messaging     string
	accountConfig string // "" on the hub
}

// loginState is one login session.
type loginState struct {
	bearer   string
	csrf     string
	cookies  []*http.Cookie
	userID   string // config.userId
	userPID  string // config.userPid
	legacyID string // "<account>.<userId>", the protocol's participant id
}

const maxBody = 8 << 20

// httpDo makes one HTTP call with the request timeout and returns the status
// and the body. Transport errors are redacted.
func (a *Adapter) httpDo(ctx context.Context, method, u string, body any, header http.Header, cookies []*http.Cookie) (int, []byte, *http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, nil, a.redact(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "botrelay-liveperson")
	for k, v := range header {
		req.Header[k] = v
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := a.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, nil, a.redact(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, a.redact(err)
	}
	return resp.StatusCode, data, resp, nil
}

// lookupDomains asks the domain lookup service for the account's hosts.
func (a *Adapter) lookupDomains(ctx context.Context) (domains, error) {
	u := a.ep.httpURL(a.ep.host, "/api/account/"+url.PathEscape(a.cfg.Account)+"/service/baseURI.json", "version=1.0")
	status, data, _, err := a.httpDo(ctx, http.MethodGet, u, nil, nil, nil)
	if err != nil {
		return domains{}, fmt.Errorf("liveperson: domain lookup at %s: %w", a.ep.host, err)
	}
	if status != http.StatusOK {
		return domains{}, &Error{Code: status, Op: "domain lookup at " + a.ep.host, Message: a.errorMessage(data)}
	}
	var b struct {
		BaseURIs []struct {
			Service string `json:"service"`
			BaseURI string `json:"baseURI"`
		} `json:"baseURIs"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return domains{}, fmt.Errorf("liveperson: domain lookup at %s: the answer is not the expected JSON", a.ep.host)
	}
	var d domains
	for _, s := range b.BaseURIs {
		host := strings.TrimSpace(s.BaseURI)
		switch s.Service {
		case serviceAgentVep:
			d.agentVep = host
		case serviceMessaging:
			d.messaging = host
		case serviceAccountConfig:
			d.accountConfig = host
		}
	}
	if d.agentVep == "" || d.messaging == "" {
		return domains{}, fmt.Errorf("liveperson: domain lookup at %s names no %s or no %s service for account %s",
			a.ep.host, serviceAgentVep, serviceMessaging, a.cfg.Account)
	}
	return d, nil
}

// loginResponse is the part of the login answer the adapter uses.
type loginResponse struct {
	Bearer string `json:"bearer"`
	CSRF   string `json:"csrf"`
	Config struct {
		UserID  json.RawMessage `json:"userId"`
		UserPID string          `json:"userPid"`
	} `json:"config"`
}

// login performs the API-key login. A 401 or 403 answer wraps
// ErrLoginRejected.
func (a *Adapter) login(ctx context.Context, d domains) (*loginState, error) {
	u := a.ep.httpURL(d.agentVep, "/api/account/"+url.PathEscape(a.cfg.Account)+"/login", "v=1.3")
	body := map[string]string{
		"username":          a.cfg.Username,
		"appKey":            a.cfg.AppKey,
		"secret":            a.cfg.Secret,
		"accessToken":       a.cfg.AccessToken,
		"accessTokenSecret": a.cfg.AccessTokenSecret,
	}
	status, data, resp, err := a.httpDo(ctx, http.MethodPost, u, body, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("liveperson: login at %s: %w", d.agentVep, err)
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		msg := a.errorMessage(data)
		if msg != "" {
			msg = " (" + msg + ")"
		}
		return nil, fmt.Errorf("%w: the login service at %s answered %d to the API-key login of user %q%s; "+
			"check the username, that the user is enabled, and the API key (appKey, secret, accessToken, accessTokenSecret)",
			ErrLoginRejected, d.agentVep, status, a.cfg.Username, msg)
	case status != http.StatusOK:
		return nil, &Error{Code: status, Op: "login at " + d.agentVep, Message: a.errorMessage(data)}
	}
	var lr loginResponse
	if err := json.Unmarshal(data, &lr); err != nil || lr.Bearer == "" {
		return nil, fmt.Errorf("liveperson: login at %s: the answer has no bearer token", d.agentVep)
	}
	userID := rawString(lr.Config.UserID)
	if userID == "" {
		return nil, fmt.Errorf("liveperson: login at %s: the answer has no config.userId", d.agentVep)
	}
	st := &loginState{
		bearer:   lr.Bearer,
		csrf:     lr.CSRF,
		cookies:  resp.Cookies(),
		userID:   userID,
		userPID:  lr.Config.UserPID,
		legacyID: a.cfg.Account + "." + userID,
	}
	if st.userPID == "" {
		st.userPID = st.legacyID
	}
	return st, nil
}

// refresh extends the login session. It returns errSessionExpired on 401.
func (a *Adapter) refresh(ctx context.Context, d domains, st *loginState) error {
	u := a.ep.httpURL(d.agentVep, "/api/account/"+url.PathEscape(a.cfg.Account)+"/refresh", "v=1.3")
	status, data, resp, err := a.httpDo(ctx, http.MethodPost, u, map[string]string{"csrf": st.csrf}, nil, st.cookies)
	if err != nil {
		return fmt.Errorf("liveperson: refresh at %s: %w", d.agentVep, err)
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return errSessionExpired
	}
	if status != http.StatusOK {
		return &Error{Code: status, Op: "refresh at " + d.agentVep, Message: a.errorMessage(data)}
	}
	if cs := resp.Cookies(); len(cs) > 0 {
		a.mu.Lock()
		st.cookies = mergeCookies(st.cookies, cs)
		a.mu.Unlock()
	}
	return nil
}

// logout ends the login session, best effort.
func (a *Adapter) logout(ctx context.Context, d domains, st *loginState) {
	u := a.ep.httpURL(d.agentVep, "/api/account/"+url.PathEscape(a.cfg.Account)+"/logout", "v=1.3")
	_, _, _, _ = a.httpDo(ctx, http.MethodPost, u, map[string]string{"csrf": st.csrf}, nil, st.cookies)
}

var errSessionExpired = errors.New("liveperson: login session expired")

func mergeCookies(old, fresh []*http.Cookie) []*http.Cookie {
	out := append([]*http.Cookie(nil), fresh...)
	for _, c := range old {
		dup := false
		for _, f := range fresh {
			if f.Name == c.Name {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, c)
		}
	}
	return out
}

// ensureAuth returns the current domains and login session, looking up and
// logging in when there is none; fresh reports a new login.
func (a *Adapter) ensureAuth(ctx context.Context) (d domains, st *loginState, fresh bool, err error) {
	a.authMu.Lock()
	defer a.authMu.Unlock()
	a.mu.Lock()
	dp, st := a.doms, a.auth
	a.mu.Unlock()
	if dp != nil && st != nil {
		return *dp, st, false, nil
	}
	if dp == nil {
		nd, err := a.lookupDomains(ctx)
		if err != nil {
			return domains{}, nil, false, err
		}
		dp = &nd
	}
	st, err = a.login(ctx, *dp)
	if err != nil {
		if !errors.Is(err, ErrLoginRejected) {
			// The lookup may be stale; do it again next time.
			a.mu.Lock()
			a.doms = nil
			a.mu.Unlock()
		}
		return domains{}, nil, false, err
	}
	a.mu.Lock()
	a.doms, a.auth = dp, st
	a.mu.Unlock()
	a.log.Info("liveperson: logged in", "userId", st.userID)
	return *dp, st, true, nil
}

// dropAuth forgets the login session st (when it is still the current one),
// and the domains when lookup is true, so the next ensureAuth starts over.
func (a *Adapter) dropAuth(st *loginState, lookup bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st == nil || a.auth == st {
		a.auth = nil
	}
	if lookup {
		a.doms = nil
	}
}

// Skills returns the account's skills by name. It logs in when Run has not
// yet. On LivePerson (the domain lookup names accountConfigReadOnly) it
// reads the Account Configuration skills API; on the hub, its
// /api/account/{account}/skills endpoint. Deleted skills are left out.
func (a *Adapter) Skills(ctx context.Context) (map[string]botrelay.SkillID, error) {
	for attempt := 0; ; attempt++ {
		d, st, _, err := a.ensureAuth(ctx)
		if err != nil {
			return nil, err
		}
		acct := url.PathEscape(a.cfg.Account)
		hubURL := a.ep.httpURL(d.agentVep, "/api/account/"+acct+"/skills", "")
		u := hubURL
		if d.accountConfig != "" {
			u = a.ep.httpURL(d.accountConfig, "/api/account/"+acct+"/configuration/le-users/skills", "v=4.0&select=$all")
		}
		h := http.Header{"Authorization": {"Bearer " + st.bearer}}
		status, data, _, err := a.httpDo(ctx, http.MethodGet, u, nil, h, nil)
		if err == nil && status == http.StatusNotFound && u != hubURL {
			// A hub names every service but serves skills on its own path.
			status, data, _, err = a.httpDo(ctx, http.MethodGet, hubURL, nil, h, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("liveperson: skills: %w", err)
		}
		if status == http.StatusUnauthorized && attempt == 0 {
			a.dropAuth(st, false)
			continue
		}
		if status != http.StatusOK {
			return nil, &Error{Code: status, Op: "skills", Message: a.errorMessage(data)}
		}
		skills, err := parseSkills(data)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		a.skillNames = make(map[botrelay.SkillID]string, len(skills))
		for name, id := range skills {
			a.skillNames[id] = name
		}
		a.mu.Unlock()
		return skills, nil
	}
}

// parseSkills reads a JSON array of skills ({"id","name","deleted"?}) or
// an object holding one under "skills".
func parseSkills(data []byte) (map[string]botrelay.SkillID, error) {
	type skill struct {
		ID      json.RawMessage `json:"id"`
		Name    string          `json:"name"`
		Deleted bool            `json:"deleted"`
	}
	var list []skill
	if err := json.Unmarshal(data, &list); err != nil {
		var wrapped struct {
			Skills []skill `json:"skills"`
		}
		if err2 := json.Unmarshal(data, &wrapped); err2 != nil {
			return nil, errors.New("liveperson: skills: the answer is not a list of skills")
		}
		list = wrapped.Skills
	}
	out := make(map[string]botrelay.SkillID, len(list))
	for _, s := range list {
		if s.Deleted || s.Name == "" {
			continue
		}
		id, err := strconv.ParseInt(rawString(s.ID), 10, 64)
		if err != nil {
			continue
		}
		out[s.Name] = botrelay.SkillID(id)
	}
	return out, nil
}

// rawString returns a JSON string's or number's text.
func rawString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	return string(raw)
}

// errorMessage extracts a readable message from an error body: the hub's
// {"error":{"message"}}, LivePerson's {"error":"..."}, {"message"}, {"msg"}
// or a plain string, redacted and cut to a sane length.
func (a *Adapter) errorMessage(data []byte) string {
	data = bytes.TrimSpace(data)
	var msg string
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) == nil {
		if e, ok := obj["error"]; ok {
			var inner struct {
				Message string `json:"message"`
				Code    string `json:"code"`
			}
			if json.Unmarshal(e, &inner) == nil && inner.Message != "" {
				msg = inner.Message
			} else {
				msg = rawString(e)
			}
		}
		for _, k := range []string{"message", "msg", "reason"} {
			if msg == "" {
				msg = rawString(obj[k])
			}
		}
	} else {
		var s string
		if json.Unmarshal(data, &s) == nil {
			msg = s
		} else {
			msg = string(data)
		}
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return a.redactString(msg)
}

// redactString removes every credential and token the adapter knows from s.
func (a *Adapter) redactString(s string) string {
	secrets := []string{a.cfg.Secret, a.cfg.AccessTokenSecret, a.cfg.AppKey, a.cfg.AccessToken}
	a.mu.Lock()
	if a.auth != nil {
		secrets = append(secrets, a.auth.bearer, a.auth.csrf)
	}
	secrets = append(secrets, a.oldBearers...)
	a.mu.Unlock()
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// redactedError keeps the chain of an error (for errors.Is) but prints
// without secrets.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func (a *Adapter) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := a.redactString(err.Error())
	if msg == err.Error() {
		return err
	}
	// Keep only the context errors in the chain: the original error may
	// print the secret (a URL with the bearer in its path).
	var cause error
	switch {
	case errors.Is(err, context.Canceled):
		cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		cause = context.DeadlineExceeded
	}
	return &redactedError{msg: msg, err: cause}
}
