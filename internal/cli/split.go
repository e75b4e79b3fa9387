package cli

import (
	"fmt"
	"text/tabwriter"
)

type splitJSON struct {
	Skill string `json:"skill"`
	Bots  []struct {
		BotID       string   `json:"botId"`
		Name        string   `json:"name"`
		Weight      int      `json:"weight"`
		State       string   `json:"state"`
		Assigned    int      `json:"assigned"`
		Share       float64  `json:"share"`
		Open        int      `json:"open"`
		Closed      int      `json:"closed"`
		Transferred int      `json:"transferred"`
		Escalated   int      `json:"escalated"`
		HandedBack  int      `json:"handedBack"`
		Containment *float64 `json:"containment"`
	} `json:"bots"`
}

// skillsSplit prints GET /api/v1/skills/{id}/split: per bot its weight, its
// share of the skill's conversations and how they ended.
func skillsSplit(e *env, args []string) error {
	fs := e.flags("split", "botrelay skills split ID|NAME")
	c, path, _, err := e.target(fs, args, "skill ID or name", skillPath)
	if err != nil {
		return err
	}
	return show(e, c, path+"/split", func(tw *tabwriter.Writer, s splitJSON) {
		fmt.Fprintln(tw, "BOT\tNAME\tWEIGHT\tSTATE\tASSIGNED\tSHARE\tOPEN\tCLOSED\tTRANSFERRED\tESCALATED\tHANDED BACK\tCONTAINMENT")
		for _, b := range s.Bots {
			containment := "—"
			if b.Containment != nil {
				containment = fmt.Sprintf("%.1f%%", *b.Containment)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%.1f%%\t%d\t%d\t%d\t%d\t%d\t%s\n", b.BotID, cell(b.Name), b.Weight, b.State,
				b.Assigned, b.Share, b.Open, b.Closed, b.Transferred, b.Escalated, b.HandedBack, containment)
		}
	})
}
