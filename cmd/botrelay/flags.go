package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// parseFlags parses a command's flags the way every botrelay command does:
// -h prints usage and the flags to stdout (exit status 0); a bad flag is one
// line on stderr saying how to see the flags (exit status 2). ok is false
// when the command should exit with code.
func parseFlags(fs *flag.FlagSet, name, usage string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	err := fs.Parse(args)
	if err == nil {
		return 0, true
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0, false
	}
	fmt.Fprintf(stderr, "botrelay %s: %v; run 'botrelay %s -h' for the flags\n", name, err, name)
	return 2, false
}
