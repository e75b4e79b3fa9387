package api

import (
	"context"
	"net/http"

	"github.com/botrelay/botrelay"
)

type skillJSON struct {
	ID          botrelay.SkillID `json:"id"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	PostSurvey  bool             `json:"postSurvey"`
	CreatedAt   string           `json:"createdAt"`
	UpdatedAt   string           `json:"updatedAt"`
}

func toSkillJSON(s *botrelay.Skill) skillJSON {
	return skillJSON{ID: s.ID, Name: s.Name, Description: s.Description, PostSurvey: s.PostSurvey,
		CreatedAt: timeString(s.CreatedAt), UpdatedAt: timeString(s.UpdatedAt)}
}

type skillRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	PostSurvey  bool   `json:"postSurvey"`
}

func (a *API) skill(ctx context.Context, r *http.Request) (*botrelay.Skill, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return nil, err
	}
	s, err := a.o.Store.Skill(ctx, botrelay.SkillID(id))
	if err == nil && s.AccountID != a.o.Account {
		err = botrelay.Errorf(botrelay.ENOTFOUND, "skill %d does not exist", id)
	}
	return s, err
}

func (a *API) listSkills(w http.ResponseWriter, r *http.Request) {
	skills, err := a.o.Store.Skills(r.Context(), a.o.Account)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]skillJSON, 0, len(skills))
	for _, s := range skills {
		out = append(out, toSkillJSON(s))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) createSkill(w http.ResponseWriter, r *http.Request) {
	var req skillRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	s := &botrelay.Skill{AccountID: a.o.Account, Name: req.Name, Description: req.Description, PostSurvey: req.PostSurvey}
	if err := s.Validate(); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.o.Store.CreateSkill(r.Context(), s); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toSkillJSON(s))
}

func (a *API) getSkill(w http.ResponseWriter, r *http.Request) {
	s, err := a.skill(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toSkillJSON(s))
}

func (a *API) updateSkill(w http.ResponseWriter, r *http.Request) {
	s, err := a.skill(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req skillRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	s.Name, s.Description, s.PostSurvey = req.Name, req.Description, req.PostSurvey
	if err := s.Validate(); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.o.Store.UpdateSkill(r.Context(), s); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toSkillJSON(s))
}

func (a *API) deleteSkill(w http.ResponseWriter, r *http.Request) {
	s, err := a.skill(r.Context(), r)
	if err == nil {
		err = a.o.Store.DeleteSkill(r.Context(), s.ID)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
