package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// Run runs the management command name ("login", "logout", "bots",
// "users", "skills", "profiles", "surveys" or "conversations") with its arguments and
// returns the exit status.
func Run(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	var err error
	prefix := "botrelay " + name
	switch name {
	case "login":
		err = e.login(args)
	case "logout":
		err = e.logout(args)
	case "bots", "users", "skills", "profiles", "surveys", "cluster", "conversations":
		groups := map[string]map[string]subcommand{"bots": botCommands, "users": userCommands, "skills": skillCommands,
			"profiles": profileCommands, "surveys": surveyCommands, "cluster": clusterCommands, "conversations": conversationCommands}[name]
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			if len(args) == 0 {
				fmt.Fprintf(stderr, "%s: missing subcommand; run '%s -h' for the subcommands\n", prefix, prefix)
				return 2
			}
			fmt.Fprint(stdout, groupUsage[name])
			return 0
		}
		sc, ok := groups[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "%s: unknown subcommand %q; run '%s -h' for the subcommands\n", prefix, args[0], prefix)
			return 2
		}
		prefix += " " + args[0]
		e.cmd = prefix
		err = sc(e, args[1:])
	default:
		fmt.Fprintf(stderr, "botrelay: unknown command %q\n", name)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "%s: %s; run '%s -h' for the flags\n", prefix, oneLine(ue.msg), prefix)
		return 2
	}
	fmt.Fprintf(stderr, "%s: %s\n", prefix, oneLine(err.Error()))
	return 1
}

type subcommand func(e *env, args []string) error

// env is one command's I/O and common flags.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	cmd            string

	server string
	json   bool
	ca     string
}

// flags returns a flag set with the common flags (--server, --json, --ca).
func (e *env) flags(name, usageLine string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&e.server, "server", "", "botrelay server `url` (default $BOTRELAY_SERVER, else the server of the last login, else "+DefaultServer+")")
	fs.BoolVar(&e.json, "json", false, "print the API's JSON instead of a table")
	fs.StringVar(&e.ca, "ca", "", "PEM `file` of a CA to trust for https")
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "usage: %s\n\nFlags:\n", usageLine)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args with flags and positional arguments in any order and
// checks the number of positional arguments (want names them).
func parse(fs *flag.FlagSet, args []string, want ...string) ([]string, error) {
	return parseOpt(fs, args, len(want), want...)
}

// parseOpt is parse where only the first required positional arguments
// must be given; the rest of want are optional.
func parseOpt(fs *flag.FlagSet, args []string, required int, want ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.Usage()
				return nil, flag.ErrHelp
			}
			return nil, &usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) < required {
		return nil, usagef("missing %s", want[len(pos)])
	}
	if len(pos) > len(want) {
		return nil, usagef("unexpected argument %q", pos[len(want)])
	}
	return pos, nil
}

// target parses a subcommand that names one thing (an ID, a login or a
// name), logs in, and resolves the thing to its API path; arg is the name
// as given.
func (e *env) target(fs *flag.FlagSet, args []string, what string,
	resolve func(*client, string) (string, error)) (c *client, path, arg string, err error) {
	pos, err := parse(fs, args, what)
	if err != nil {
		return nil, "", "", err
	}
	if c, err = e.authed(); err != nil {
		return nil, "", "", err
	}
	if path, err = resolve(c, pos[0]); err != nil {
		return nil, "", "", err
	}
	return c, path, pos[0], nil
}

// serverURL resolves the server: --server, BOTRELAY_SERVER, the saved
// login's server, DefaultServer.
func (e *env) serverURL(saved *savedLogin) string {
	switch {
	case e.server != "":
		return e.server
	case os.Getenv("BOTRELAY_SERVER") != "":
		return os.Getenv("BOTRELAY_SERVER")
	case saved != nil && saved.Server != "":
		return saved.Server
	}
	return DefaultServer
}

// authed returns a client with the bearer token of BOTRELAY_TOKEN or of
// the token file.
func (e *env) authed() (*client, error) {
	token := os.Getenv("BOTRELAY_TOKEN")
	var saved *savedLogin
	if s, ok, err := readLogin(); err != nil && token == "" {
		return nil, err
	} else if ok {
		saved = &s
		if token == "" {
			token = s.Token
		}
	}
	if token == "" {
		return nil, errors.New("not logged in: run 'botrelay login --user NAME' or set BOTRELAY_TOKEN")
	}
	c, err := newClient(e.serverURL(saved), e.ca)
	if err != nil {
		return nil, err
	}
	// The saved token goes only to the server that made it.
	if os.Getenv("BOTRELAY_TOKEN") == "" && saved != nil && saved.Server != "" && saved.Server != c.server {
		return nil, fmt.Errorf("the saved token is for %s, not %s; run 'botrelay login --server %s' or set BOTRELAY_TOKEN", saved.Server, c.server, c.server)
	}
	c.token = token
	return c, nil
}

// printRaw prints an API answer as is (for --json); an empty answer (204)
// prints nothing.
// deleteTarget is a "delete ID" subcommand: it resolves the one target,
// deletes it and says so (with --json, prints whatever the API answered).
func (e *env) deleteTarget(args []string, usage, what string, resolve func(*client, string) (string, error), noun string) error {
	fs := e.flags("delete", usage)
	c, path, arg, err := e.target(fs, args, what, resolve)
	if err != nil {
		return err
	}
	raw, err := c.do("DELETE", path, nil)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	fmt.Fprintf(e.stdout, "deleted %s %s\n", noun, arg)
	return nil
}

// show gets path and prints the API's JSON with --json, else what print
// writes to a table writer.
func show[T any](e *env, c *client, path string, print func(tw *tabwriter.Writer, v T)) error {
	var v T
	raw, err := c.getJSON(path, &v)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	print(tw, v)
	return tw.Flush()
}

func (e *env) printRaw(b []byte) {
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) == 0 {
		return
	}
	fmt.Fprintln(e.stdout, string(b))
}

// readLine reads the first line of r, without its line ending.
func readLine(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no standard input")
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("standard input is empty")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// isTerminal reports whether r is a character device (a terminal).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// jsonArg reads a JSON object given as text or as @file.
func jsonArg(flagName, v string) (map[string]any, error) {
	b := []byte(v)
	if strings.HasPrefix(v, "@") {
		var err error
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, fmt.Errorf("read --%s: %v", flagName, err)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, usagef("--%s must be a JSON object or @file holding one", flagName)
	}
	return m, nil
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}
