package main

import (
	"io"

	"github.com/botrelay/botrelay/internal/cli"
)

// manageCommand runs the management commands over the REST API:
// login, logout, bots, users, skills, profiles and surveys (internal/cli).
func manageCommand(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cli.Run(name, args, stdin, stdout, stderr)
}
