package cli

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
)

// botsStatus shows a bot's state, open conversations and state history.
func botsStatus(e *env, args []string) error {
	fs := e.flags("status", "botrelay bots status ID")
	c, path, _, err := e.target(fs, args, "bot ID", botResolver)
	if err != nil {
		return err
	}
	var s struct {
		ID                string `json:"id"`
		State             string `json:"state"`
		Started           bool   `json:"started"`
		OpenConversations int    `json:"openConversations"`
		History           []struct {
			State, Code, Message, ErrorID, At string
		} `json:"history"`
	}
	raw, err := c.getJSON(path+"/status", &s)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	fmt.Fprintf(e.stdout, "state: %s\nstarted: %v\nopen conversations: %d\n", s.State, s.Started, s.OpenConversations)
	if len(s.History) > 0 {
		fmt.Fprintln(e.stdout)
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "AT\tSTATE\tCODE\tMESSAGE\tERROR ID")
		for _, h := range s.History {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.At, h.State, dash(h.Code), dash(cell(h.Message)), dash(h.ErrorID))
		}
		return tw.Flush()
	}
	return nil
}

// botsErrors lists a bot's conversation error log.
func botsErrors(e *env, args []string) error {
	fs := e.flags("errors", "botrelay bots errors ID [--conversation C] [--limit N]")
	conv := fs.String("conversation", "", "only the errors of this conversation `id`")
	limit := fs.Int("limit", 0, "at most `n` errors (newest first)")
	pos, err := parse(fs, args, "bot ID")
	if err != nil {
		return err
	}
	q := url.Values{}
	if *conv != "" {
		q.Set("conversationId", *conv)
	}
	if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	path := botPath(pos[0]) + "/errors"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	var list []struct {
		ID, ConversationID, Code, Message, At string
	}
	raw, err := c.getJSON(path, &list)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tCONVERSATION\tCODE\tMESSAGE\tID")
	for _, x := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.At, x.ConversationID, x.Code, cell(x.Message), x.ID)
	}
	return tw.Flush()
}

// botsConversations lists the conversations a bot holds.
func botsConversations(e *env, args []string) error {
	fs := e.flags("conversations", "botrelay bots conversations ID\n\nLists the open conversations the bot holds, oldest first.")
	c, path, _, err := e.target(fs, args, "bot ID", botResolver)
	if err != nil {
		return err
	}
	var list []struct {
		ConversationID string `json:"conversationId"`
		DialogID       string `json:"dialogId"`
		ConsumerID     string `json:"consumerId"`
		SkillID        int64  `json:"skillId"`
		Escalations    int    `json:"escalations"`
		CreatedAt      string `json:"createdAt"`
		UpdatedAt      string `json:"updatedAt"`
	}
	raw, err := c.getJSON(path+"/conversations", &list)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	skills := names(c, "/skills")
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONVERSATION\tDIALOG\tCONSUMER\tSKILL\tESCALATIONS\tCREATED\tUPDATED")
	for _, x := range list {
		skill := "-"
		if x.SkillID != 0 {
			skill = cell(nameOf(skills, x.SkillID))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", x.ConversationID, x.DialogID, x.ConsumerID, skill, x.Escalations, x.CreatedAt, x.UpdatedAt)
	}
	return tw.Flush()
}

// botsTest runs the vendor connection test with the bot's stored settings.
func botsTest(e *env, args []string) error {
	fs := e.flags("test", "botrelay bots test ID\n\nRuns the vendor's health check with the stored settings; exits 1 when it fails.")
	c, path, _, err := e.target(fs, args, "bot ID", botResolver)
	if err != nil {
		return err
	}
	var r struct {
		OK      bool   `json:"ok"`
		Checked bool   `json:"checked"`
		Error   string `json:"error"`
	}
	raw, err := c.call("POST", path+"/test", nil, &r)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
	}
	if !r.OK {
		return errors.New("connection test failed: " + r.Error)
	}
	if !e.json {
		if r.Checked {
			fmt.Fprintln(e.stdout, "ok: the vendor answered the health check")
		} else {
			fmt.Fprintln(e.stdout, "ok: the settings are valid (the vendor has no health check)")
		}
	}
	return nil
}
