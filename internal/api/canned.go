package api

import (
	"context"
	"net/http"

	"github.com/botrelay/botrelay"
)

// Canned replies: ready-made answers of the account that the agent console
// offers. Agents read them (canned:view); admins manage them (canned:manage).

type cannedJSON struct {
	ID        botrelay.CannedReplyID `json:"id"`
	Title     string                 `json:"title"`
	Text      string                 `json:"text"`
	CreatedAt string                 `json:"createdAt"`
	UpdatedAt string                 `json:"updatedAt"`
}

func toCannedJSON(c *botrelay.CannedReply) cannedJSON {
	return cannedJSON{ID: c.ID, Title: c.Title, Text: c.Text, CreatedAt: timeString(c.CreatedAt), UpdatedAt: timeString(c.UpdatedAt)}
}

type cannedRequest struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// cannedRoutes are the canned-reply routes of RouteTable.
func (a *API) cannedRoutes(v1 string) []Route {
	return []Route{
		{http.MethodGet, v1 + "/canned-replies", botrelay.PermCannedView, a.listCanned},
		{http.MethodPost, v1 + "/canned-replies", botrelay.PermCannedManage, a.createCanned},
		{http.MethodGet, v1 + "/canned-replies/{id}", botrelay.PermCannedView, a.getCanned},
		{http.MethodPut, v1 + "/canned-replies/{id}", botrelay.PermCannedManage, a.updateCanned},
		{http.MethodDelete, v1 + "/canned-replies/{id}", botrelay.PermCannedManage, a.deleteCanned},
	}
}

// canned loads the reply named by the path's {id}; one of another account
// does not exist for the caller.
func (a *API) canned(ctx context.Context, r *http.Request) (*botrelay.CannedReply, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return nil, err
	}
	c, err := a.o.Store.CannedReply(ctx, botrelay.CannedReplyID(id))
	if err == nil && c.AccountID != a.o.Account {
		err = botrelay.Errorf(botrelay.ENOTFOUND, "canned reply %d not found", id)
	}
	return c, err
}

func (a *API) listCanned(w http.ResponseWriter, r *http.Request) {
	list, err := a.o.Store.CannedReplies(r.Context(), a.o.Account)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]cannedJSON, 0, len(list))
	for _, c := range list {
		out = append(out, toCannedJSON(c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) createCanned(w http.ResponseWriter, r *http.Request) {
	var req cannedRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	c := &botrelay.CannedReply{AccountID: a.o.Account, Title: req.Title, Text: req.Text}
	if err := a.o.Store.CreateCannedReply(r.Context(), c); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toCannedJSON(c))
}

func (a *API) getCanned(w http.ResponseWriter, r *http.Request) {
	c, err := a.canned(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toCannedJSON(c))
}

func (a *API) updateCanned(w http.ResponseWriter, r *http.Request) {
	c, err := a.canned(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req cannedRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	c.Title, c.Text = req.Title, req.Text
	if err := a.o.Store.UpdateCannedReply(r.Context(), c); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toCannedJSON(c))
}

func (a *API) deleteCanned(w http.ResponseWriter, r *http.Request) {
	c, err := a.canned(r.Context(), r)
	if err == nil {
		err = a.o.Store.DeleteCannedReply(r.Context(), c.ID)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
