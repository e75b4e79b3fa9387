// Command botrelay is the botrelay bot connector platform: the server
// (serve) and its command-line clients.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/botrelay/botrelay/internal/app"
)

const usage = `botrelay — a self-hosted bot connector platform

Usage:
  botrelay serve [flags]    run the server (hub, connector, management)
  botrelay chat [flags]     chat as a consumer from a terminal or a script
  botrelay vendors          list the vendor connector ids
  botrelay login [flags]    log in to a server and save a bearer token
  botrelay logout           revoke and delete the saved token
  botrelay bots …           list, show, create, update, delete, start, stop and test bots
  botrelay users …          list, show, create, update and delete users, their passwords and API keys
  botrelay skills …         list, show, create, update and delete skills
  botrelay profiles …       list, show, create, update and delete profiles (permission sets)
  botrelay surveys …        list and show post-conversation survey runs and their answers
  botrelay cluster status   show the nodes of a cluster, their bots and which node routes the hub
  botrelay conversations …  search conversations and print a transcript
  botrelay bench [flags]    measure throughput, latency, CPU and memory (BENCHMARKS.md)
  botrelay rotate-master-key [flags]
                            re-seal every bot's secrets under a new master key (server stopped)
  botrelay backup [flags]   write a consistent backup of the database to a file
  botrelay restore [flags]  load a backup into a new data folder or an empty database
  botrelay healthcheck      exit 0 when the local server answers /healthz (for containers)
  botrelay version          print the version and the commit it was built from

Run 'botrelay <command> -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return app.ServeCommand(args[1:], stdout, stderr, newRegistry())
	case "chat":
		return chatCommand(args[1:], os.Stdin, stdout, stderr)
	case "login", "logout", "bots", "users", "skills", "profiles", "surveys", "cluster", "conversations":
		return manageCommand(args[0], args[1:], os.Stdin, stdout, stderr)
	case "bench":
		return benchCommand(args[1:], stdout, stderr)
	case "rotate-master-key":
		return app.RotateMasterKeyCommand(args[1:], stdout, stderr, os.Getenv)
	case "vendors":
		for _, id := range newRegistry().VendorIDs() {
			fmt.Fprintln(stdout, id)
		}
		return 0
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, app.VersionLine())
		return 0
	case "healthcheck":
		return healthcheckCommand(args[1:], stdout, stderr)
	case "backup":
		return backupCommand(args[1:], stdout, stderr)
	case "restore":
		return restoreCommand(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "botrelay: unknown command %q; run 'botrelay help' for the commands\n", args[0])
	return 2
}
