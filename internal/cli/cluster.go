package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

var clusterCommands = map[string]subcommand{
	"status": clusterStatus,
}

type clusterJSON struct {
	Enabled bool   `json:"enabled"`
	Self    string `json:"self"`
	Router  *struct {
		Node  string    `json:"node"`
		Epoch int64     `json:"epoch"`
		Since time.Time `json:"since"`
	} `json:"router"`
	Nodes []struct {
		ID          string    `json:"id"`
		Address     string    `json:"address"`
		Alive       bool      `json:"alive"`
		HeartbeatAt time.Time `json:"heartbeatAt"`
		Router      bool      `json:"router"`
		Bots        []struct {
			ID    string `json:"id"`
			Name  string `json:"name"`
			Epoch int64  `json:"epoch"`
		} `json:"bots"`
	} `json:"nodes"`
}

// clusterStatus prints GET /api/v1/cluster: one line a node with the bots
// it runs, and which node routes the hub.
func clusterStatus(e *env, args []string) error {
	fs := e.flags("status", "botrelay cluster status\n\nShows the nodes of the cluster, the bots each runs and which node routes the hub.")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := e.authed()
	if err != nil {
		return err
	}
	var st clusterJSON
	raw, err := c.getJSON("/cluster", &st)
	if err != nil {
		return err
	}
	if e.json {
		e.printRaw(raw)
		return nil
	}
	if !st.Enabled {
		fmt.Fprintln(e.stdout, "single node: cluster mode is off (start every node with --database postgres://… --node-id ID --advertise URL)")
		return nil
	}
	router := "none"
	if st.Router != nil {
		router = fmt.Sprintf("%s (epoch %d, since %s)", st.Router.Node, st.Router.Epoch, st.Router.Since.Format(time.RFC3339))
	}
	fmt.Fprintf(e.stdout, "router: %s\n", router)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tADDRESS\tROUTER\tBOTS\tNAMES")
	for _, n := range st.Nodes {
		state := "dead"
		if n.Alive {
			state = "alive"
		}
		names := make([]string, 0, len(n.Bots))
		for _, b := range n.Bots {
			names = append(names, dash(cell(b.Name)))
		}
		r := "-"
		if n.Router {
			r = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", n.ID, state, n.Address, r, len(n.Bots), dash(strings.Join(names, ",")))
	}
	return tw.Flush()
}
