package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
)

type surveyJSON struct {
	BotID          string `json:"botId"`
	ConversationID string `json:"conversationId"`
	DialogID       string `json:"dialogId"`
	ConsumerID     string `json:"consumerId"`
	SkillID        int64  `json:"skillId"`
	State          string `json:"state"`
	Answers        []struct {
		Sequence int64  `json:"sequence"`
		Question string `json:"question"`
		Answer   string `json:"answer"`
		At       string `json:"at"`
	} `json:"answers"`
	Result    json.RawMessage `json:"result"`
	Error     string          `json:"error"`
	StartedAt string          `json:"startedAt"`
	EndedAt   *string         `json:"endedAt"`
}

var surveyCommands = map[string]subcommand{
	"list": surveysList,
	"show": surveysShow,
}

// surveysPath is GET /surveys with its filters; limit 0 is the server's default.
func surveysPath(bot, conv string, limit int) string {
	q := url.Values{}
	if bot != "" {
		q.Set("botId", bot)
	}
	if conv != "" {
		q.Set("conversationId", conv)
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if len(q) == 0 {
		return "/surveys"
	}
	return "/surveys?" + q.Encode()
}

func surveysList(e *env, args []string) error {
	fs := e.flags("list", "botrelay surveys list [--bot ID] [--conversation ID] [--limit N]\n\nLists post-conversation survey runs, newest first; --json includes their answers and results.")
	bot := fs.String("bot", "", "only the runs of this bot `id`")
	conv := fs.String("conversation", "", "only the runs of this conversation `id`")
	limit := fs.Int("limit", 0, "at most `n` runs (default: the server's, 100)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if setFlags(fs)["limit"] && *limit < 1 {
		return usagef("--limit must be at least 1")
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	return show(e, c, surveysPath(*bot, *conv, *limit), func(tw *tabwriter.Writer, list []surveyJSON) {
		fmt.Fprintln(tw, "CONVERSATION\tBOT\tSTATE\tSTARTED\tENDED\tANSWERS")
		for _, s := range list {
			ended := "-"
			if s.EndedAt != nil {
				ended = *s.EndedAt
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", s.ConversationID, s.BotID, s.State, s.StartedAt, ended, len(s.Answers))
		}
	})
}

func surveysShow(e *env, args []string) error {
	fs := e.flags("show", "botrelay surveys show CONVERSATION_ID [--bot ID]\n\nShows a conversation's survey runs: each question with its answer, and the result.")
	bot := fs.String("bot", "", "only the run of this bot `id`")
	pos, err := parse(fs, args, "conversation ID")
	if err != nil {
		return err
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	var list []surveyJSON
	raw, err := c.getJSON(surveysPath(*bot, pos[0], 0), &list)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return &APIError{Status: 404, Code: "not_found", Message: fmt.Sprintf("conversation %q has no survey run", pos[0])}
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	for i, s := range list {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		ended := "-"
		if s.EndedAt != nil {
			ended = *s.EndedAt
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "conversation:\t%s\nbot:\t%s\nstate:\t%s\nstarted:\t%s\nended:\t%s\n", s.ConversationID, s.BotID, s.State, s.StartedAt, ended)
		if s.Error != "" {
			fmt.Fprintf(tw, "error:\t%s\n", cell(s.Error))
		}
		tw.Flush()
		fmt.Fprintf(e.stdout, "answers (%d):\n", len(s.Answers))
		for _, a := range s.Answers {
			fmt.Fprintf(e.stdout, "  %s → %s\n", dash(cell(a.Question)), dash(cell(a.Answer)))
		}
		fmt.Fprintf(e.stdout, "result: %s\n", compactJSON(s.Result))
	}
	return nil
}

// compactJSON prints a JSON value on one line; "-" for none or null.
func compactJSON(b json.RawMessage) string {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil || out.String() == "null" || out.Len() == 0 {
		return "-"
	}
	return out.String()
}
