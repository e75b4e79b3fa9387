package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
)

var conversationCommands = map[string]subcommand{
	"list": conversationsList,
	"show": conversationsShow,
}

type convRef struct {
	ID   json.RawMessage `json:"id"`
	Name string          `json:"name"`
}

type conversationJSON struct {
	ID       string  `json:"id"`
	Consumer convRef `json:"consumer"`
	Skill    convRef `json:"skill"`
	State    string  `json:"state"`
	Bots     []struct {
		Name string `json:"name"`
	} `json:"bots"`
	CloseReason string  `json:"closeReason"`
	CreatedAt   string  `json:"createdAt"`
	ClosedAt    *string `json:"closedAt"`
}

type conversationPage struct {
	Conversations []conversationJSON `json:"conversations"`
	NextCursor    *string            `json:"nextCursor"`
}

type transcriptEntryJSON struct {
	Kind   string `json:"kind"`
	At     string `json:"at"`
	Author *struct {
		Role     string `json:"role"`
		Name     string `json:"name"`
		UserType string `json:"userType"`
	} `json:"author"`
	Private   bool            `json:"private"`
	Event     json.RawMessage `json:"event"`
	Type      string          `json:"type"`
	User      *convRef        `json:"user"`
	Role      string          `json:"role"`
	Skill     *convRef        `json:"skill"`
	FromSkill *convRef        `json:"fromSkill"`
	TTR       string          `json:"ttr"`
	By        string          `json:"by"`
	Bot       *convRef        `json:"bot"`
	Code      string          `json:"code"`
	Message   string          `json:"message"`
}

func conversationsList(e *env, args []string) error {
	fs := e.flags("list", "botrelay conversations list [--consumer C] [--bot B] [--skill S] [--state open|closed] [--from T] [--to T] [--limit N] [--cursor C]\n\n"+
		"Searches conversations, newest first: all of the account with conversation:view-all, else the ones you took part in.\n"+
		"--json prints the page with its nextCursor; pass it back with --cursor for the next page.")
	q := url.Values{}
	flags := map[string]*string{
		"consumer": fs.String("consumer", "", "the consumer `id`, part of the consumer's name, or the displayed \"Consumer 1a2b3c4d\""),
		"bot":      fs.String("bot", "", "a bot `id or name`: conversations it held"),
		"skill":    fs.String("skill", "", "a skill `id or name`: conversations routed to it now or before a transfer"),
		"state":    fs.String("state", "", "`open` or closed"),
		"from":     fs.String("from", "", "started at or after this RFC 3339 `time`"),
		"to":       fs.String("to", "", "started before this RFC 3339 `time`"),
		"cursor":   fs.String("cursor", "", "the nextCursor `value` of the previous page"),
	}
	limit := fs.Int("limit", 0, "at most `n` conversations (default: the server's, 50; at most 200)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	for k, v := range flags {
		if *v != "" {
			q.Set(k, *v)
		}
	}
	if setFlags(fs)["limit"] {
		if *limit < 1 {
			return usagef("--limit must be at least 1")
		}
		q.Set("limit", strconv.Itoa(*limit))
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	path := "/conversations"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return show(e, c, path, func(tw *tabwriter.Writer, p conversationPage) {
		fmt.Fprintln(tw, "CONVERSATION\tCONSUMER\tSKILL\tBOTS\tSTATE\tSTARTED\tCLOSED")
		for _, cv := range p.Conversations {
			var bots []string
			for _, b := range cv.Bots {
				bots = append(bots, b.Name)
			}
			closed := "-"
			if cv.ClosedAt != nil {
				closed = *cv.ClosedAt
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cv.ID, cell(cv.Consumer.Name), cell(cv.Skill.Name),
				dash(cell(strings.Join(bots, ", "))), cv.State, cv.CreatedAt, closed)
		}
		if p.NextCursor != nil {
			tw.Flush()
			fmt.Fprintf(e.stdout, "more: --cursor %s\n", *p.NextCursor)
		}
	})
}

func conversationsShow(e *env, args []string) error {
	fs := e.flags("show", "botrelay conversations show ID\n\nPrints a conversation's transcript, one line per message, system event and bot error, in time order.")
	pos, err := parse(fs, args, "conversation ID")
	if err != nil {
		return err
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	var t struct {
		Conversation conversationJSON      `json:"conversation"`
		Transcript   []transcriptEntryJSON `json:"transcript"`
	}
	raw, err := c.getJSON("/conversations/"+url.PathEscape(pos[0]), &t)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	cv := t.Conversation
	fmt.Fprintf(e.stdout, "conversation %s with %s, skill %s, %s\n", cv.ID, cell(cv.Consumer.Name), cell(cv.Skill.Name), cv.State)
	for _, en := range t.Transcript {
		fmt.Fprintf(e.stdout, "%s %s\n", en.At, transcriptLine(en))
	}
	return nil
}

// transcriptLine renders one transcript entry as text.
func transcriptLine(en transcriptEntryJSON) string {
	switch en.Kind {
	case "message":
		who := "consumer " + en.Author.Name
		if en.Author.Role != "CONSUMER" {
			who = strings.ToLower(en.Author.UserType) + " " + en.Author.Name
		}
		if en.Private {
			who += " (private note)"
		}
		return who + ": " + messageText(en.Event)
	case "botError":
		return "bot error " + en.Bot.Name + ": " + en.Code + " " + cell(en.Message)
	}
	name := func(r *convRef) string {
		if r == nil {
			return "-"
		}
		return cell(r.Name)
	}
	switch en.Type {
	case "CONVERSATION_STARTED":
		return "started on skill " + name(en.Skill)
	case "PARTICIPANT_JOINED":
		return name(en.User) + " joined as " + en.Role
	case "PARTICIPANT_LEFT":
		return name(en.User) + " left"
	case "AGENT_SUGGESTED":
		return "transfer suggested agent " + name(en.User)
	case "TRANSFERRED":
		return "transferred from skill " + name(en.FromSkill) + " to skill " + name(en.Skill)
	case "TTR_CHANGED":
		return "TTR changed to " + en.TTR
	case "CONVERSATION_CLOSED":
		return "closed by " + en.By
	}
	return strings.ToLower(strings.ReplaceAll(en.Type, "_", " "))
}

// messageText is a stored message event in one line: the text (with its
// quick replies), a file, or the rich content as compact JSON.
func messageText(raw json.RawMessage) string {
	var ev struct {
		Type         string          `json:"type"`
		ContentType  string          `json:"contentType"`
		Message      json.RawMessage `json:"message"`
		QuickReplies *struct {
			Replies []struct {
				Title string `json:"title"`
			} `json:"replies"`
		} `json:"quickReplies"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &ev) != nil {
		return compactJSON(raw)
	}
	if ev.Type == "RichContentEvent" {
		return "[rich content] " + compactJSON(ev.Content)
	}
	var text string
	if json.Unmarshal(ev.Message, &text) != nil {
		text = compactJSON(ev.Message)
	}
	if ev.ContentType == "hosted/file" {
		text = "[file] " + text
	}
	if ev.QuickReplies != nil {
		var titles []string
		for _, r := range ev.QuickReplies.Replies {
			titles = append(titles, "["+r.Title+"]")
		}
		text += " " + strings.Join(titles, " ")
	}
	return cell(text)
}
