package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/botrelay/botrelay"
)

type profileJSON struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Role        string   `json:"role"`
	BuiltIn     bool     `json:"builtIn"`
	Permissions []string `json:"permissions"`
	CreatedAt   string   `json:"createdAt"`
	UpdatedAt   string   `json:"updatedAt"`
}

var profileCommands = map[string]subcommand{
	"list":   profilesList,
	"show":   profilesShow,
	"create": profilesCreate,
	"update": profilesUpdate,
	"delete": profilesDelete,
}

func profilePath(c *client, s string) (string, error) {
	id, err := resolveNamed(c, "/profiles", "profile", s)
	if err != nil {
		return "", err
	}
	return "/profiles/" + strconv.FormatInt(id, 10), nil
}

// parseRole turns "agent-manager", "Agent_Manager" … into AGENT_MANAGER and
// refuses an unknown role as a usage error.
func parseRole(s string) (string, error) {
	r := botrelay.Role(strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_")))
	if !r.Valid() {
		return "", usagef("--role %q must be one of %s, %s, %s, %s", s, botrelay.RoleAdmin, botrelay.RoleCampaignManager,
			botrelay.RoleAgentManager, botrelay.RoleAgent)
	}
	return string(r), nil
}

// parsePermissions turns "bot:view, bot:start" into a list of known
// permissions; "" is none. flagName names the flag in errors.
func parsePermissions(flagName, s string) ([]string, error) {
	perms := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.ToLower(strings.TrimSpace(p)); p == "" {
			continue
		}
		if !botrelay.Permission(p).Valid() {
			known := make([]string, len(botrelay.AllPermissions))
			for i, k := range botrelay.AllPermissions {
				known[i] = string(k)
			}
			return nil, usagef("--%s: unknown permission %q (known: %s)", flagName, p, strings.Join(known, ","))
		}
		if !slices.Contains(perms, p) {
			perms = append(perms, p)
		}
	}
	return perms, nil
}

func profilesList(e *env, args []string) error {
	fs := e.flags("list", "botrelay profiles list")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	return show(e, c, "/profiles", func(tw *tabwriter.Writer, list []profileJSON) {
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tBUILT IN\tPERMISSIONS")
		for _, p := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%s\n", p.ID, cell(p.Name), p.Role, p.BuiltIn, dash(strings.Join(p.Permissions, ",")))
		}
	})
}

func profilesShow(e *env, args []string) error {
	fs := e.flags("show", "botrelay profiles show ID|NAME")
	c, path, _, err := e.target(fs, args, "profile ID or name", profilePath)
	if err != nil {
		return err
	}
	return show(e, c, path, func(tw *tabwriter.Writer, p profileJSON) {
		fmt.Fprintf(tw, "id:\t%d\nname:\t%s\ndescription:\t%s\nrole:\t%s\nbuilt in:\t%v\ncreated:\t%s\nupdated:\t%s\npermissions:\t%s\n",
			p.ID, cell(p.Name), cell(p.Description), p.Role, p.BuiltIn, p.CreatedAt, p.UpdatedAt, dash(strings.Join(p.Permissions, ", ")))
	})
}

func profilesCreate(e *env, args []string) error {
	fs := e.flags("create", "botrelay profiles create --name N --role ROLE [--permissions a,b] [--description D]\n\n"+
		"ROLE is ADMIN, CAMPAIGN_MANAGER, AGENT_MANAGER or AGENT. The profile grants exactly --permissions,\n"+
		"and only permissions your own profile has.")
	name := fs.String("name", "", "profile `name` (required)")
	role := fs.String("role", "", "base `role` (required)")
	perms := fs.String("permissions", "", "comma-separated `permissions`, e.g. bot:view,bot:start")
	desc := fs.String("description", "", "`description`")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return usagef("--name is required")
	}
	if *role == "" {
		return usagef("--role is required")
	}
	r, err := parseRole(*role)
	if err != nil {
		return err
	}
	pl, err := parsePermissions("permissions", *perms)
	if err != nil {
		return err
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	var p profileJSON
	raw, err := c.call("POST", "/profiles", map[string]any{"name": *name, "description": *desc, "role": r, "permissions": pl}, &p)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	fmt.Fprintf(e.stdout, "created profile %d (%s) with %d permissions\n", p.ID, cell(p.Name), len(p.Permissions))
	return nil
}

func profilesUpdate(e *env, args []string) error {
	fs := e.flags("update", "botrelay profiles update ID|NAME [--name N] [--role ROLE] [--permissions a,b] [--grant a,b] [--revoke a,b] [--description D]\n\n"+
		"--permissions replaces the list; --grant and --revoke add to and remove from it. Built-in profiles are read-only.")
	name := fs.String("name", "", "new `name`")
	role := fs.String("role", "", "new base `role`")
	perms := fs.String("permissions", "", "comma-separated `permissions` (replace the list; \"\" for none)")
	grant := fs.String("grant", "", "comma-separated `permissions` to add")
	revoke := fs.String("revoke", "", "comma-separated `permissions` to remove")
	desc := fs.String("description", "", "`description`")
	pos, err := parse(fs, args, "profile ID or name")
	if err != nil {
		return err
	}
	set := setFlags(fs)
	if set["name"] && strings.TrimSpace(*name) == "" {
		return usagef("--name must not be empty")
	}
	var r string
	if set["role"] {
		if r, err = parseRole(*role); err != nil {
			return err
		}
	}
	var pl, add, del []string
	for _, f := range []struct {
		name string
		v    string
		out  *[]string
	}{{"permissions", *perms, &pl}, {"grant", *grant, &add}, {"revoke", *revoke, &del}} {
		if set[f.name] {
			if *f.out, err = parsePermissions(f.name, f.v); err != nil {
				return err
			}
		}
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	path, err := profilePath(c, pos[0])
	if err != nil {
		return err
	}
	var p profileJSON
	if _, err := c.getJSON(path, &p); err != nil {
		return err
	}
	if set["name"] {
		p.Name = *name
	}
	if set["description"] {
		p.Description = *desc
	}
	if set["role"] {
		p.Role = r
	}
	if set["permissions"] {
		p.Permissions = pl
	}
	for _, x := range add {
		if !slices.Contains(p.Permissions, x) {
			p.Permissions = append(p.Permissions, x)
		}
	}
	p.Permissions = slices.DeleteFunc(p.Permissions, func(x string) bool { return slices.Contains(del, x) })
	if p.Permissions == nil {
		p.Permissions = []string{}
	}
	raw, err := c.call("PUT", path, map[string]any{"name": p.Name, "description": p.Description, "role": p.Role, "permissions": p.Permissions}, &p)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	fmt.Fprintf(e.stdout, "updated profile %d (%s): %s\n", p.ID, cell(p.Name), dash(strings.Join(p.Permissions, ",")))
	return nil
}

func profilesDelete(e *env, args []string) error {
	return e.deleteTarget(args, "botrelay profiles delete ID|NAME", "profile ID or name", profilePath, "profile")
}
