package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

var groupUsage = map[string]string{
	"bots": `usage: botrelay bots <subcommand> [flags]

Subcommands:
  list                     list the bots
  show ID                  show one bot
  create --name N --user LOGIN|ID --vendor V [--settings JSON|@file] [--secrets JSON|@file] [--escalation-skill S]
  update ID [--name N] [--user LOGIN|ID] [--settings JSON|@file] [--secrets JSON|@file] [--escalation-skill S]
  delete ID                delete a bot (stops it first)
  start ID                 start a bot
  stop ID                  stop a bot
  status ID                show a bot's state and state history
  errors ID [--conversation C] [--limit N]
  conversations ID         list the conversations the bot holds
  test ID                  test the vendor connection
  converse ID [--conversation C] [--start] [TEXT]
                           send one tester turn to the vendor and show the reply

--settings are the vendor settings (settings.vendor); --secrets are merged into them.
Common flags: --server URL, --json, --ca FILE. Run 'botrelay bots <subcommand> -h' for its flags.
`,
	"users": `usage: botrelay users <subcommand> [flags]

Subcommands:
  list [--type HUMAN|BOT]  list the users
  show ID|LOGIN            show one user
  create --login L --type HUMAN|BOT --profile NAME [--skills a,b] [--password-stdin] [--nickname N] [--email E]
  update ID|LOGIN [--login L] [--profile NAME] [--skills a,b] [--nickname N] [--email E] [--enabled=true|false]
  delete ID|LOGIN          delete a user
  password ID|LOGIN [--password-stdin]  set a password (generated and shown once without --password-stdin)
  keys ID|LOGIN            list a user's API key sets
  add-key ID|LOGIN [--description D]  create an API key set (its secrets are shown once)
  delete-key ID|LOGIN APP_KEY  revoke an API key set

Common flags: --server URL, --json, --ca FILE. Run 'botrelay users <subcommand> -h' for its flags.
`,
	"skills": `usage: botrelay skills <subcommand> [flags]

Subcommands:
  list                     list the skills
  show ID|NAME             show one skill
  create --name N [--description D] [--post-survey]
  update ID|NAME [--name N] [--description D] [--post-survey=true|false]
  delete ID|NAME           delete a skill

Common flags: --server URL, --json, --ca FILE. Run 'botrelay skills <subcommand> -h' for its flags.
`,
	"profiles": `usage: botrelay profiles <subcommand> [flags]

Subcommands:
  list                     list the profiles and their permissions
  show ID|NAME             show one profile
  create --name N --role ROLE [--permissions a,b] [--description D]
  update ID|NAME [--name N] [--role ROLE] [--permissions a,b] [--grant a,b] [--revoke a,b] [--description D]
  delete ID|NAME           delete a custom profile

ROLE is ADMIN, CAMPAIGN_MANAGER, AGENT_MANAGER or AGENT. The permissions are bot:view, bot:create,
bot:start, bot:stop, bot:edit, bot:delete, user:view, user:manage, skill:view, skill:manage,
profile:view, profile:manage, conversation:handle and conversation:view-all. The built-in profiles
are read-only.
Common flags: --server URL, --json, --ca FILE. Run 'botrelay profiles <subcommand> -h' for its flags.
`,
	"surveys": `usage: botrelay surveys <subcommand> [flags]

Subcommands:
  list [--bot ID] [--conversation ID] [--limit N]  list post-conversation survey runs, newest first
  show CONVERSATION_ID [--bot ID]                  show a conversation's questions, answers and result

Common flags: --server URL, --json, --ca FILE. Run 'botrelay surveys <subcommand> -h' for its flags.
`,
}

type botJSON struct {
	ID               string          `json:"id"`
	Name             string          `json:"name"`
	Type             string          `json:"type"`
	ConversationType string          `json:"conversationType"`
	Vendor           string          `json:"vendor"`
	UserID           int64           `json:"userId"`
	Settings         json.RawMessage `json:"settings"`
	SecretsSet       []string        `json:"secretsSet"`
	Started          bool            `json:"started"`
	State            string          `json:"state"`
	CreatedAt        string          `json:"createdAt"`
	UpdatedAt        string          `json:"updatedAt"`
}

var botCommands = map[string]subcommand{
	"list":          botsList,
	"show":          botsShow,
	"create":        botsCreate,
	"update":        botsUpdate,
	"delete":        botsDelete,
	"start":         func(e *env, a []string) error { return botsAction(e, a, "start") },
	"stop":          func(e *env, a []string) error { return botsAction(e, a, "stop") },
	"status":        botsStatus,
	"errors":        botsErrors,
	"conversations": botsConversations,
	"test":          botsTest,
	"converse":      botsConverse,
}

func botPath(id string) string { return "/bots/" + url.PathEscape(id) }

// botResolver is botPath as a target resolver: bots are named by id only.
func botResolver(_ *client, id string) (string, error) { return botPath(id), nil }

func botsList(e *env, args []string) error {
	fs := e.flags("list", "botrelay bots list")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	var bots []botJSON
	raw, err := c.getJSON("/bots", &bots)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	// Best effort: the bot users' logins and skills (needs user:view and
	// skill:view), and the open conversations of started bots.
	var users []userJSON
	if _, err := c.getJSON("/users?type=BOT", &users); err != nil {
		users = nil
	}
	byID := map[int64]userJSON{}
	for _, u := range users {
		byID[u.ID] = u
	}
	skills := names(c, "/skills")
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tVENDOR\tSTATE\tSTARTED\tOPEN CONVS\tUSER\tSKILLS\tUPDATED")
	for _, b := range bots {
		open := "-"
		if b.Started {
			var s struct {
				OpenConversations int `json:"openConversations"`
			}
			if _, err := c.getJSON(botPath(b.ID)+"/status", &s); err == nil {
				open = strconv.Itoa(s.OpenConversations)
			}
		}
		user, skillNames := strconv.FormatInt(b.UserID, 10), "-"
		if u, ok := byID[b.UserID]; ok {
			user, skillNames = u.LoginName, dash(namesOf(skills, u.SkillIDs))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\t%s\t%s\t%s\n", b.ID, cell(b.Name), b.Type, b.Vendor, b.State, b.Started, open, cell(user), cell(skillNames), b.UpdatedAt)
	}
	return tw.Flush()
}

func botsShow(e *env, args []string) error {
	fs := e.flags("show", "botrelay bots show ID")
	c, path, _, err := e.target(fs, args, "bot ID", botResolver)
	if err != nil {
		return err
	}
	var b botJSON
	raw, err := c.getJSON(path, &b)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	e.printBot(b)
	return nil
}

func (e *env) printBot(b botJSON) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\nname:\t%s\ntype:\t%s\nconversation type:\t%s\nvendor:\t%s\nuser:\t%d\nstate:\t%s\nstarted:\t%v\nsecrets set:\t%s\ncreated:\t%s\nupdated:\t%s\n",
		b.ID, cell(b.Name), b.Type, b.ConversationType, b.Vendor, b.UserID, b.State, b.Started, strings.Join(b.SecretsSet, ", "), b.CreatedAt, b.UpdatedAt)
	tw.Flush()
	if len(b.Settings) > 0 {
		var pretty strings.Builder
		var v any
		if json.Unmarshal(b.Settings, &v) == nil {
			out, _ := json.MarshalIndent(v, "  ", "  ")
			pretty.Write(out)
		}
		fmt.Fprintf(e.stdout, "settings:\n  %s\n", pretty.String())
	}
}

// botFlags are the flags of create and update.
type botFlags struct {
	name, user, vendor, typ, convType, settings, secrets, escalation string
}

func botsCreate(e *env, args []string) error {
	fs := e.flags("create", "botrelay bots create --name N --user LOGIN|ID --vendor V [flags]")
	var f botFlags
	fs.StringVar(&f.name, "name", "", "bot `name` (required)")
	fs.StringVar(&f.user, "user", "", "bot user: `login` name or id of a BOT user not bound to a bot (required)")
	fs.StringVar(&f.vendor, "vendor", "", "vendor connector `id` (required; see 'botrelay vendors')")
	fs.StringVar(&f.typ, "type", "", "`AGENT` (default) or SURVEY")
	fs.StringVar(&f.convType, "conversation-type", "", "`MESSAGING` (default) or CHAT")
	fs.StringVar(&f.settings, "settings", "", "vendor settings as a JSON object or @`file`")
	fs.StringVar(&f.secrets, "secrets", "", "secret vendor settings as a JSON object or @`file` (merged into --settings)")
	fs.StringVar(&f.escalation, "escalation-skill", "", "`name` of the default escalation skill")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	for _, req := range [][2]string{{"name", f.name}, {"user", f.user}, {"vendor", f.vendor}} {
		if req[1] == "" {
			return usagef("--%s is required", req[0])
		}
	}
	vendor, err := vendorSettings(nil, f.settings, f.secrets)
	if err != nil {
		return err
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	uid, err := resolveUser(c, f.user)
	if err != nil {
		return err
	}
	settings := map[string]any{}
	if vendor != nil {
		settings["vendor"] = vendor
	}
	if f.escalation != "" {
		settings["errorHandling"] = map[string]any{"escalationSkill": f.escalation}
	}
	body := map[string]any{"name": f.name, "vendor": f.vendor, "userId": uid, "settings": settings}
	if f.typ != "" {
		body["type"] = strings.ToUpper(f.typ)
	}
	if f.convType != "" {
		body["conversationType"] = strings.ToUpper(f.convType)
	}
	var b botJSON
	raw, err := c.call("POST", "/bots", body, &b)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	fmt.Fprintf(e.stdout, "created bot %s (%s), %s\n", b.ID, cell(b.Name), b.State)
	return nil
}

func botsUpdate(e *env, args []string) error {
	fs := e.flags("update", "botrelay bots update ID [flags]\n\nOnly a stopped, offline bot can be updated. Secret vendor settings left out keep their value,\n"+
		"except when the update changes an endpoint setting (a base URL, host, region or id; GET /api/v1/vendors\n"+
		"lists them as endpoint): then give every stored secret again with --secrets, or null to remove it.")
	var f botFlags
	fs.StringVar(&f.name, "name", "", "new bot `name`")
	fs.StringVar(&f.user, "user", "", "new bot user: `login` name or id")
	fs.StringVar(&f.settings, "settings", "", "new vendor settings as a JSON object or @`file` (replace the non-secret ones)")
	fs.StringVar(&f.secrets, "secrets", "", "secret vendor settings to set, as a JSON object or @`file` (null removes one)")
	fs.StringVar(&f.escalation, "escalation-skill", "", "`name` of the default escalation skill")
	pos, err := parse(fs, args, "bot ID")
	if err != nil {
		return err
	}
	set := setFlags(fs)
	c, err := e.authed()
	if err != nil {
		return err
	}
	path := botPath(pos[0])
	var cur struct {
		Name     string         `json:"name"`
		UserID   int64          `json:"userId"`
		Settings map[string]any `json:"settings"`
	}
	if _, err := c.getJSON(path, &cur); err != nil {
		return err
	}
	if cur.Settings == nil {
		cur.Settings = map[string]any{}
	}
	if set["settings"] || set["secrets"] {
		var base map[string]any
		if !set["settings"] {
			base, _ = cur.Settings["vendor"].(map[string]any)
		}
		v, err := vendorSettings(base, f.settings, f.secrets)
		if err != nil {
			return err
		}
		cur.Settings["vendor"] = v
	}
	if set["escalation-skill"] {
		eh, _ := cur.Settings["errorHandling"].(map[string]any)
		if eh == nil {
			eh = map[string]any{}
		}
		eh["escalationSkill"] = f.escalation
		cur.Settings["errorHandling"] = eh
	}
	body := map[string]any{"name": cur.Name, "settings": cur.Settings, "userId": cur.UserID}
	if set["name"] {
		body["name"] = f.name
	}
	if set["user"] {
		uid, err := resolveUser(c, f.user)
		if err != nil {
			return err
		}
		body["userId"] = uid
	}
	var b botJSON
	raw, err := c.call("PUT", path, body, &b)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	fmt.Fprintf(e.stdout, "updated bot %s (%s)\n", b.ID, cell(b.Name))
	return nil
}

// vendorSettings merges base, the --settings object and the --secrets
// object (in this order); nil when none is given.
func vendorSettings(base map[string]any, settings, secrets string) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for _, a := range [][2]string{{"settings", settings}, {"secrets", secrets}} {
		if a[1] == "" {
			continue
		}
		m, err := jsonArg(a[0], a[1])
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
	}
	if base == nil && settings == "" && secrets == "" {
		return nil, nil
	}
	return out, nil
}

func botsDelete(e *env, args []string) error {
	return e.deleteTarget(args, "botrelay bots delete ID", "bot ID", botResolver, "bot")
}

func botsAction(e *env, args []string, action string) error {
	fs := e.flags(action, "botrelay bots "+action+" ID")
	c, path, _, err := e.target(fs, args, "bot ID", botResolver)
	if err != nil {
		return err
	}
	var b botJSON
	raw, err := c.call("POST", path+"/"+action, nil, &b)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	if action == "start" {
		fmt.Fprintf(e.stdout, "bot %s: starting (state %s); follow it with 'botrelay bots status %s'\n", b.ID, b.State, b.ID)
	} else {
		fmt.Fprintf(e.stdout, "bot %s: stopped (state %s)\n", b.ID, b.State)
	}
	return nil
}

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

// cell makes s fit one table cell: no tabs or line breaks.
func cell(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
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
	var r struct {
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
	raw, err := c.call("POST", botPath(pos[0])+"/converse", body, &r)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
	} else {
		fmt.Fprintf(e.stdout, "conversation %s, turn %d: %s\n", r.ConversationID, r.Turn, r.Status)
		if r.Reply != nil {
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
	}
	if r.Error != nil {
		return fmt.Errorf("the vendor turn failed: %s: %s", r.Error.Code, r.Error.Message)
	}
	return nil
}
