package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"
)

type skillJSON struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PostSurvey  bool   `json:"postSurvey"`
	CreatedAt   string `json:"createdAt"`
}

var skillCommands = map[string]subcommand{
	"list":   skillsList,
	"show":   skillsShow,
	"create": skillsCreate,
	"update": skillsUpdate,
	"delete": skillsDelete,
	"split":  skillsSplit,
}

func skillPath(c *client, s string) (string, error) {
	id, err := resolveNamed(c, "/skills", "skill", s)
	if err != nil {
		return "", err
	}
	return "/skills/" + strconv.FormatInt(id, 10), nil
}

func skillsList(e *env, args []string) error {
	fs := e.flags("list", "botrelay skills list")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	return show(e, c, "/skills", func(tw *tabwriter.Writer, list []skillJSON) {
		fmt.Fprintln(tw, "ID\tNAME\tPOST SURVEY\tDESCRIPTION")
		for _, s := range list {
			fmt.Fprintf(tw, "%d\t%s\t%v\t%s\n", s.ID, cell(s.Name), s.PostSurvey, dash(cell(s.Description)))
		}
	})
}

func skillsShow(e *env, args []string) error {
	fs := e.flags("show", "botrelay skills show ID|NAME")
	c, path, _, err := e.target(fs, args, "skill ID or name", skillPath)
	if err != nil {
		return err
	}
	return show(e, c, path, func(tw *tabwriter.Writer, s skillJSON) {
		fmt.Fprintf(tw, "id:\t%d\nname:\t%s\ndescription:\t%s\npost survey:\t%v\ncreated:\t%s\n",
			s.ID, cell(s.Name), cell(s.Description), s.PostSurvey, s.CreatedAt)
	})
}

func skillsCreate(e *env, args []string) error {
	fs := e.flags("create", "botrelay skills create --name N [--description D] [--post-survey]")
	name := fs.String("name", "", "skill `name` (required)")
	desc := fs.String("description", "", "`description`")
	post := fs.Bool("post-survey", false, "run a post-conversation survey")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--name is required")
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	var s skillJSON
	raw, err := c.call("POST", "/skills", map[string]any{"name": *name, "description": *desc, "postSurvey": *post}, &s)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	fmt.Fprintf(e.stdout, "created skill %d (%s)\n", s.ID, s.Name)
	return nil
}

func skillsUpdate(e *env, args []string) error {
	fs := e.flags("update", "botrelay skills update ID|NAME [--name N] [--description D] [--post-survey=true|false]")
	name := fs.String("name", "", "new `name`")
	desc := fs.String("description", "", "`description`")
	post := fs.Bool("post-survey", false, "run a post-conversation survey")
	pos, err := parse(fs, args, "skill ID or name")
	if err != nil {
		return err
	}
	set := setFlags(fs)
	c, err := e.authed()
	if err != nil {
		return err
	}
	path, err := skillPath(c, pos[0])
	if err != nil {
		return err
	}
	var s skillJSON
	if _, err := c.getJSON(path, &s); err != nil {
		return err
	}
	if set["name"] {
		s.Name = *name
	}
	if set["description"] {
		s.Description = *desc
	}
	if set["post-survey"] {
		s.PostSurvey = *post
	}
	raw, err := c.call("PUT", path, map[string]any{"name": s.Name, "description": s.Description, "postSurvey": s.PostSurvey}, &s)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	fmt.Fprintf(e.stdout, "updated skill %d (%s)\n", s.ID, s.Name)
	return nil
}

func skillsDelete(e *env, args []string) error {
	return e.deleteTarget(args, "botrelay skills delete ID|NAME", "skill ID or name", skillPath, "skill")
}
