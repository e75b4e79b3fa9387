package cli

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// login runs `botrelay login`.
func (e *env) login(args []string) error {
	e.cmd = "botrelay login"
	fs := e.flags("login", "botrelay login [--server URL] --user NAME\n\nThe password is read from BOTRELAY_PASSWORD or, when standard input is not a terminal, from its first line.\nThe bearer token made for this login is saved in the token file (BOTRELAY_TOKEN_FILE, default <config dir>/botrelay/token).")
	user := fs.String("user", "", "login `name`")
	desc := fs.String("description", "", "description of the token (default: botrelay CLI and the time)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *user == "" {
		return usagef("--user is required")
	}
	password := os.Getenv("BOTRELAY_PASSWORD")
	if password == "" {
		if isTerminal(e.stdin) {
			return errors.New("set BOTRELAY_PASSWORD or pipe the password on standard input")
		}
		p, err := readLine(e.stdin)
		if err != nil {
			return fmt.Errorf("read the password from standard input: %v", err)
		}
		password = p
	}
	if password == "" {
		return errors.New("the password is empty")
	}
	var saved *savedLogin
	if s, ok, _ := readLogin(); ok {
		saved = &s
	}
	c, err := newClient(e.serverURL(saved), e.ca)
	if err != nil {
		return err
	}
	c.withJar()
	var lr struct {
		CSRFToken string `json:"csrfToken"`
		User      struct {
			LoginName string `json:"loginName"`
		} `json:"user"`
	}
	if _, err := c.call("POST", "/login", map[string]string{"loginName": *user, "password": password}, &lr); err != nil {
		return err
	}
	c.csrf = lr.CSRFToken
	if *desc == "" {
		*desc = "botrelay CLI " + time.Now().UTC().Format(time.RFC3339)
	}
	var tr struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if _, err := c.call("POST", "/tokens", map[string]string{"description": *desc}, &tr); err != nil {
		return err
	}
	_, _ = c.do("POST", "/logout", nil) // the session is no longer needed
	if tr.Token == "" {
		return errors.New("the server made no token")
	}
	path, err := writeLogin(savedLogin{Server: c.server, TokenID: tr.ID, Token: tr.Token})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "logged in to %s as %s; token %s saved in %s\n", c.server, lr.User.LoginName, tr.ID, path)
	return nil
}

// logout runs `botrelay logout`: it revokes the saved token and deletes
// the token file.
func (e *env) logout(args []string) error {
	e.cmd = "botrelay logout"
	fs := e.flags("logout", "botrelay logout\n\nRevokes the saved token (DELETE /api/v1/tokens/{id}) on the server that made it and deletes the token file.")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	s, ok, err := readLogin()
	path, _ := tokenFile()
	if err != nil {
		// A damaged file: remove it anyway.
		if rmErr := os.Remove(path); rmErr != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "removed the damaged token file", path)
		return nil
	}
	if !ok {
		fmt.Fprintln(e.stdout, "not logged in")
		return nil
	}
	// The token is revoked on (and only sent to) the server that made it.
	server := s.Server
	if server == "" {
		server = e.serverURL(nil)
	}
	c, err := newClient(server, e.ca)
	if err != nil {
		return err
	}
	c.token = s.Token
	var revokeErr error
	if s.TokenID != "" {
		if _, err := c.do("DELETE", "/tokens/"+s.TokenID, nil); err != nil {
			var ae *APIError
			// An unknown or expired token is gone already.
			if !errors.As(err, &ae) || (ae.Code != "unauthorized" && ae.Code != "not_found") {
				revokeErr = err
			}
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete the token file: %v", err)
	}
	if revokeErr != nil {
		return fmt.Errorf("deleted the token file, but could not revoke the token: %v", revokeErr)
	}
	fmt.Fprintln(e.stdout, "logged out")
	return nil
}
