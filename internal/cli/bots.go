package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
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
  split ID|NAME            how the skill's conversations split across its bots (docs/standins.md)

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
profile:view, profile:manage, conversation:handle, conversation:view-all, canned:view and
canned:manage. The built-in profiles are read-only.
Common flags: --server URL, --json, --ca FILE. Run 'botrelay profiles <subcommand> -h' for its flags.
`,
	"surveys": `usage: botrelay surveys <subcommand> [flags]

Subcommands:
  list [--bot ID] [--conversation ID] [--limit N]  list post-conversation survey runs, newest first
  show CONVERSATION_ID [--bot ID]                  show a conversation's questions, answers and result

Common flags: --server URL, --json, --ca FILE. Run 'botrelay surveys <subcommand> -h' for its flags.
`,
	"cluster": `usage: botrelay cluster <subcommand> [flags]

Subcommands:
  status  show the nodes of the cluster, the bots each runs and which node routes the hub

Common flags: --server URL, --json, --ca FILE. Run 'botrelay cluster <subcommand> -h' for its flags.
`,
	"conversations": `usage: botrelay conversations <subcommand> [flags]

Subcommands:
  list [--consumer C] [--bot B] [--skill S] [--state open|closed] [--from T] [--to T] [--limit N] [--cursor C]
                           search conversations, newest first (yours, or all with conversation:view-all)
  show ID                  print a conversation's transcript: messages, private notes, events, bot errors

Common flags: --server URL, --json, --ca FILE. Run 'botrelay conversations <subcommand> -h' for its flags.
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

// botsUpdate changes a stopped bot: what the flags give replaces what the
// bot has (PUT /bots/{id} takes the whole bot).
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
	var cur botEdit
	if _, err := c.getJSON(path, &cur); err != nil {
		return err
	}
	if err := cur.apply(f, set); err != nil {
		return err
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

// botEdit is the part of a bot that update sends back, as read.
type botEdit struct {
	Name     string         `json:"name"`
	UserID   int64          `json:"userId"`
	Settings map[string]any `json:"settings"`
}

// apply sets the vendor settings and the escalation skill the update's
// flags give.
func (cur *botEdit) apply(f botFlags, set map[string]bool) error {
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
