package api

import (
	"net/http"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/botstats"
)

// botStats serves the bot's figures over time (F38): ?from and ?to are
// RFC 3339 times, ?step a Go duration of whole minutes ("5m", "1h");
// all three are optional (botstats.Query has the defaults).
func (a *API) botStats(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := a.bot(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	q := botstats.Query{Bot: b.ID}
	v := r.URL.Query()
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(p.name); s != "" {
			if *p.t, err = time.Parse(time.RFC3339, s); err != nil {
				a.writeError(w, r, botrelay.Errorf(botrelay.EINVALID, "%s must be an RFC 3339 time such as 2026-12-06T10:00:00Z", p.name))
				return
			}
		}
	}
	if s := v.Get("step"); s != "" {
		if q.Step, err = time.ParseDuration(s); err != nil {
			a.writeError(w, r, botrelay.Errorf(botrelay.EINVALID, "step must be a duration such as 1m, 15m or 1h"))
			return
		}
	}
	s, err := botstats.Run(ctx, a.o.Store, a.o.Now(), q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}
