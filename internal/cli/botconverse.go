package cli

import (
	"encoding/json"
	"fmt"
	"time"
)

// converseReply is the tester's answer to one turn, as the CLI shows it.
type converseReply struct {
	ConversationID string `json:"conversationId"`
	Turn           int    `json:"turn"`
	Status         string `json:"status"`
	Reply          *struct {
		Items []struct {
			Message *struct {
				Text              string          `json:"text"`
				StructuredContent json.RawMessage `json:"structuredContent"`
			} `json:"message"`
			Delay *struct {
				Duration int64 `json:"duration"`
			} `json:"delay"`
		} `json:"items"`
		Action *struct {
			Kind  string `json:"kind"`
			Skill string `json:"skill"`
		} `json:"action"`
	} `json:"reply"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// botsConverse runs one turn of the conversation tester (POST
// /bots/{id}/converse): the vendor's translated reply, without touching the
// messaging platform.
func botsConverse(e *env, args []string) error {
	fs := e.flags("converse", "botrelay bots converse ID [--conversation C] [--start] [--text T | TEXT]\n\n"+
		"Sends one turn to the bot's vendor with its stored settings (the conversation tester; nothing reaches the\n"+
		"messaging platform) and prints the reply. The first turn prints a tester conversation id; pass it as\n"+
		"--conversation to continue. --start sends the welcome event instead of a text.")
	conv := fs.String("conversation", "", "continue this tester conversation `id`")
	start := fs.Bool("start", false, "send the welcome event (START) instead of a text")
	text := fs.String("text", "", "the consumer's `message`")
	pos, err := parseOpt(fs, args, 1, "bot ID", "text")
	if err != nil {
		return err
	}
	if len(pos) == 2 {
		if setFlags(fs)["text"] {
			return usagef("give the text as --text or as an argument, not both")
		}
		*text = pos[1]
	}
	if *start == (*text != "") {
		return usagef("give a text (--text T or TEXT) or --start")
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	body := map[string]any{"conversationId": *conv, "kind": "TEXT", "text": *text}
	if *start {
		body["kind"], body["text"] = "START", ""
	}
	var r converseReply
	raw, err := c.call("POST", botPath(pos[0])+"/converse", body, &r)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
	} else {
		e.printConverseReply(&r)
	}
	if r.Error != nil {
		return fmt.Errorf("the vendor turn failed: %s: %s", r.Error.Code, r.Error.Message)
	}
	return nil
}

// printConverseReply prints a tester turn's outcome: its messages, delays
// and action.
func (e *env) printConverseReply(r *converseReply) {
	fmt.Fprintf(e.stdout, "conversation %s, turn %d: %s\n", r.ConversationID, r.Turn, r.Status)
	if r.Reply == nil {
		return
	}
	for _, it := range r.Reply.Items {
		switch {
		case it.Message != nil && it.Message.Text != "":
			fmt.Fprintf(e.stdout, "bot: %s\n", it.Message.Text)
		case it.Message != nil && len(it.Message.StructuredContent) > 0:
			fmt.Fprintf(e.stdout, "bot (structured content): %s\n", compactJSON(it.Message.StructuredContent))
		case it.Delay != nil:
			fmt.Fprintf(e.stdout, "(delay %v)\n", time.Duration(it.Delay.Duration))
		}
	}
	if a := r.Reply.Action; a != nil {
		if a.Skill != "" {
			fmt.Fprintf(e.stdout, "action: %s to %s\n", a.Kind, a.Skill)
		} else {
			fmt.Fprintf(e.stdout, "action: %s\n", a.Kind)
		}
	}
}
