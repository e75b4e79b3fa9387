package cli

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
)

type userJSON struct {
	ID             int64   `json:"id"`
	Type           string  `json:"type"`
	LoginName      string  `json:"loginName"`
	Nickname       string  `json:"nickname"`
	Email          string  `json:"email"`
	ProfileID      int64   `json:"profileId"`
	ChatSlots      int     `json:"chatSlots"`
	MessagingSlots int     `json:"messagingSlots"`
	SkillIDs       []int64 `json:"skillIds"`
	Enabled        bool    `json:"enabled"`
	HasPassword    bool    `json:"hasPassword"`
	CreatedAt      string  `json:"createdAt"`
}

type apiKeyJSON struct {
	AppKey            string  `json:"appKey"`
	AccessToken       string  `json:"accessToken"`
	Description       string  `json:"description"`
	CreatedAt         string  `json:"createdAt"`
	LastUsedAt        *string `json:"lastUsedAt"`
	Secret            string  `json:"secret"`
	AccessTokenSecret string  `json:"accessTokenSecret"`
}

type named struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

var userCommands = map[string]subcommand{
	"list":       usersList,
	"show":       usersShow,
	"create":     usersCreate,
	"update":     usersUpdate,
	"delete":     usersDelete,
	"keys":       usersKeys,
	"add-key":    usersAddKey,
	"delete-key": usersDeleteKey,
	"password":   usersPassword,
}

// resolveUser turns a login name or a numeric id into a user id.
func resolveUser(c *client, s string) (int64, error) {
	if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	var users []userJSON
	if _, err := c.getJSON("/users", &users); err != nil {
		return 0, err
	}
	for _, u := range users {
		if u.LoginName == s {
			return u.ID, nil
		}
	}
	return 0, &APIError{Status: 404, Code: "not_found", Message: fmt.Sprintf("user %q does not exist", s)}
}

// resolveNamed turns a name or a numeric id into the id of one of the
// objects listed at path (profiles or skills).
func resolveNamed(c *client, path, what, s string) (int64, error) {
	if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	var list []named
	if _, err := c.getJSON(path, &list); err != nil {
		return 0, err
	}
	for _, x := range list {
		if strings.EqualFold(x.Name, s) {
			return x.ID, nil
		}
	}
	return 0, &APIError{Status: 404, Code: "not_found", Message: fmt.Sprintf("%s %q does not exist", what, s)}
}

// resolveSkills turns "a,b" (names or ids) into skill ids; "" is none.
func resolveSkills(c *client, s string) ([]int64, error) {
	ids := []int64{}
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		id, err := resolveNamed(c, "/skills", "skill", name)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func userPath(c *client, s string) (string, error) {
	id, err := resolveUser(c, s)
	if err != nil {
		return "", err
	}
	return "/users/" + strconv.FormatInt(id, 10), nil
}

func usersList(e *env, args []string) error {
	fs := e.flags("list", "botrelay users list [--type HUMAN|BOT]")
	typ := fs.String("type", "", "only users of this `type` (HUMAN or BOT)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	path := "/users"
	if *typ != "" {
		path += "?type=" + url.QueryEscape(strings.ToUpper(*typ))
	}
	var users []userJSON
	raw, err := c.getJSON(path, &users)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	skills := names(c, "/skills")
	profiles := names(c, "/profiles")
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLOGIN\tTYPE\tNICKNAME\tPROFILE\tSKILLS\tENABLED\tCREATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", u.ID, cell(u.LoginName), u.Type, dash(cell(u.Nickname)),
			cell(nameOf(profiles, u.ProfileID)), dash(cell(namesOf(skills, u.SkillIDs))), u.Enabled, u.CreatedAt)
	}
	return tw.Flush()
}

// names lists the objects at path (skills, profiles) as id → name; nil
// when the caller may not list them, so tables fall back to ids.
func names(c *client, path string) map[int64]string {
	var list []named
	if _, err := c.getJSON(path, &list); err != nil {
		return nil
	}
	m := make(map[int64]string, len(list))
	for _, x := range list {
		m[x.ID] = x.Name
	}
	return m
}

func nameOf(m map[int64]string, id int64) string {
	if n, ok := m[id]; ok {
		return n
	}
	return strconv.FormatInt(id, 10)
}

func namesOf(m map[int64]string, ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = nameOf(m, id)
	}
	return strings.Join(s, ",")
}

func usersShow(e *env, args []string) error {
	fs := e.flags("show", "botrelay users show ID|LOGIN")
	c, path, _, err := e.target(fs, args, "user ID or login", userPath)
	if err != nil {
		return err
	}
	return show(e, c, path, func(tw *tabwriter.Writer, u userJSON) {
		fmt.Fprintf(tw, "id:\t%d\nlogin:\t%s\ntype:\t%s\nnickname:\t%s\nemail:\t%s\nprofile:\t%s\nskills:\t%s\nchat slots:\t%d\nmessaging slots:\t%d\nenabled:\t%v\nhas password:\t%v\ncreated:\t%s\n",
			u.ID, cell(u.LoginName), u.Type, cell(u.Nickname), cell(u.Email), cell(nameOf(names(c, "/profiles"), u.ProfileID)), cell(namesOf(names(c, "/skills"), u.SkillIDs)), u.ChatSlots, u.MessagingSlots, u.Enabled, u.HasPassword, u.CreatedAt)
	})
}

func usersCreate(e *env, args []string) error {
	fs := e.flags("create", "botrelay users create --login L --type HUMAN|BOT --profile NAME [flags]\n\nA human without --password-stdin gets a generated password and a bot user an API key set; both are printed once.")
	login := fs.String("login", "", "login `name` (required)")
	typ := fs.String("type", "", "`HUMAN` or BOT (required)")
	profile := fs.String("profile", "", "profile `name` or id (required)")
	skills := fs.String("skills", "", "comma-separated skill `names` or ids")
	nickname := fs.String("nickname", "", "`nickname`")
	email := fs.String("email", "", "`email` address")
	chatSlots := fs.Int("chat-slots", 0, "chat `slots` (default: the server's)")
	msgSlots := fs.Int("messaging-slots", 0, "messaging `slots` (default: the server's)")
	disabled := fs.Bool("disabled", false, "create the user disabled")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	for _, req := range [][2]string{{"login", *login}, {"type", *typ}, {"profile", *profile}} {
		if req[1] == "" {
			return usagef("--%s is required", req[0])
		}
	}
	body := map[string]any{"loginName": *login, "type": strings.ToUpper(*typ), "nickname": *nickname, "email": *email,
		"enabled": !*disabled}
	set := setFlags(fs)
	if set["chat-slots"] {
		body["chatSlots"] = *chatSlots
	}
	if set["messaging-slots"] {
		body["messagingSlots"] = *msgSlots
	}
	if *pwStdin {
		pw, err := readLine(e.stdin)
		if err != nil {
			return fmt.Errorf("read the password from standard input: %v", err)
		}
		body["password"] = pw
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	pid, err := resolveNamed(c, "/profiles", "profile", *profile)
	if err != nil {
		return err
	}
	body["profileId"] = pid
	sids, err := resolveSkills(c, *skills)
	if err != nil {
		return err
	}
	body["skillIds"] = sids
	var r struct {
		User              userJSON    `json:"user"`
		GeneratedPassword string      `json:"generatedPassword"`
		APIKey            *apiKeyJSON `json:"apiKey"`
	}
	raw, err := c.call("POST", "/users", body, &r)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	fmt.Fprintf(e.stdout, "created user %d (%s, %s)\n", r.User.ID, r.User.LoginName, r.User.Type)
	if r.GeneratedPassword != "" {
		fmt.Fprintf(e.stdout, "generated password (shown once): %s\n", r.GeneratedPassword)
	}
	if r.APIKey != nil {
		e.printKeySecrets(*r.APIKey)
	}
	return nil
}

func (e *env) printKeySecrets(k apiKeyJSON) {
	fmt.Fprintln(e.stdout, "API key set (its secrets are shown once):")
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  appKey:\t%s\n  secret:\t%s\n  accessToken:\t%s\n  accessTokenSecret:\t%s\n", k.AppKey, k.Secret, k.AccessToken, k.AccessTokenSecret)
	tw.Flush()
}

func usersUpdate(e *env, args []string) error {
	fs := e.flags("update", "botrelay users update ID|LOGIN [flags]")
	login := fs.String("login", "", "new login `name`")
	profile := fs.String("profile", "", "profile `name` or id")
	skills := fs.String("skills", "", "comma-separated skill `names` or ids (replace the user's skills; \"\" for none)")
	nickname := fs.String("nickname", "", "`nickname`")
	email := fs.String("email", "", "`email` address")
	chatSlots := fs.Int("chat-slots", 0, "chat `slots`")
	msgSlots := fs.Int("messaging-slots", 0, "messaging `slots`")
	enabled := fs.Bool("enabled", true, "enable (true) or disable (false) the user")
	pos, err := parse(fs, args, "user ID or login")
	if err != nil {
		return err
	}
	set := setFlags(fs)
	c, err := e.authed()
	if err != nil {
		return err
	}
	path, err := userPath(c, pos[0])
	if err != nil {
		return err
	}
	var u userJSON
	if _, err := c.getJSON(path, &u); err != nil {
		return err
	}
	if u.SkillIDs == nil {
		u.SkillIDs = []int64{}
	}
	body := map[string]any{"loginName": u.LoginName, "nickname": u.Nickname, "email": u.Email, "profileId": u.ProfileID,
		"chatSlots": u.ChatSlots, "messagingSlots": u.MessagingSlots, "skillIds": u.SkillIDs, "enabled": u.Enabled}
	if set["login"] {
		body["loginName"] = *login
	}
	if set["nickname"] {
		body["nickname"] = *nickname
	}
	if set["email"] {
		body["email"] = *email
	}
	if set["chat-slots"] {
		body["chatSlots"] = *chatSlots
	}
	if set["messaging-slots"] {
		body["messagingSlots"] = *msgSlots
	}
	if set["enabled"] {
		body["enabled"] = *enabled
	}
	if set["profile"] {
		if body["profileId"], err = resolveNamed(c, "/profiles", "profile", *profile); err != nil {
			return err
		}
	}
	if set["skills"] {
		if body["skillIds"], err = resolveSkills(c, *skills); err != nil {
			return err
		}
	}
	raw, err := c.call("PUT", path, body, &u)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	fmt.Fprintf(e.stdout, "updated user %d (%s)\n", u.ID, u.LoginName)
	return nil
}

func usersDelete(e *env, args []string) error {
	return e.deleteTarget(args, "botrelay users delete ID|LOGIN", "user ID or login", userPath, "user")
}

func usersKeys(e *env, args []string) error {
	fs := e.flags("keys", "botrelay users keys ID|LOGIN")
	c, path, _, err := e.target(fs, args, "user ID or login", userPath)
	if err != nil {
		return err
	}
	return show(e, c, path+"/apikeys", func(tw *tabwriter.Writer, keys []apiKeyJSON) {
		fmt.Fprintln(tw, "APP KEY\tDESCRIPTION\tCREATED\tLAST USED")
		for _, k := range keys {
			last := "-"
			if k.LastUsedAt != nil {
				last = *k.LastUsedAt
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.AppKey, dash(cell(k.Description)), k.CreatedAt, last)
		}
	})
}

func usersAddKey(e *env, args []string) error {
	fs := e.flags("add-key", "botrelay users add-key ID|LOGIN [--description D]")
	desc := fs.String("description", "", "`description` of the key set")
	c, path, _, err := e.target(fs, args, "user ID or login", userPath)
	if err != nil {
		return err
	}
	var k apiKeyJSON
	raw, err := c.call("POST", path+"/apikeys", map[string]string{"description": *desc}, &k)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	e.printKeySecrets(k)
	return nil
}

func usersDeleteKey(e *env, args []string) error {
	fs := e.flags("delete-key", "botrelay users delete-key ID|LOGIN APP_KEY\n\nRevokes one API key set of the user; see 'botrelay users keys' for the app keys.")
	pos, err := parse(fs, args, "user ID or login", "app key")
	if err != nil {
		return err
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	path, err := userPath(c, pos[0])
	if err != nil {
		return err
	}
	if _, err := c.do("DELETE", path+"/apikeys/"+url.PathEscape(pos[1]), nil); err != nil {
		return err
	}
	if !e.json {
		fmt.Fprintf(e.stdout, "deleted API key %s of user %s\n", pos[1], pos[0])
	}
	return nil
}

func usersPassword(e *env, args []string) error {
	fs := e.flags("password", "botrelay users password ID|LOGIN [--password-stdin]\n\n"+
		"Sets a user's password and ends the user's sessions and tokens. Without --password-stdin the server\n"+
		"generates a password, printed once.")
	pwStdin := fs.Bool("password-stdin", false, "read the new password from the first line of standard input")
	pos, err := parse(fs, args, "user ID or login")
	if err != nil {
		return err
	}
	body := map[string]string{"password": ""}
	if *pwStdin {
		pw, err := readLine(e.stdin)
		if err != nil {
			return fmt.Errorf("read the password from standard input: %v", err)
		}
		if pw == "" {
			return errors.New("the password on standard input is empty")
		}
		body["password"] = pw
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	path, err := userPath(c, pos[0])
	if err != nil {
		return err
	}
	var r struct {
		GeneratedPassword string `json:"generatedPassword"`
	}
	raw, err := c.call("POST", path+"/password", body, &r)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	fmt.Fprintf(e.stdout, "set the password of user %s; its sessions and tokens have ended\n", pos[0])
	if r.GeneratedPassword != "" {
		fmt.Fprintf(e.stdout, "generated password (shown once): %s\n", r.GeneratedPassword)
	}
	return nil
}
