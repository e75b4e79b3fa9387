package liveperson

// dialogTypes maps a conversation's dialog ids to their types: one or two
// entries, so a slice (a map would cost a few hundred bytes per open
// conversation).
type dialogTypes []struct{ id, typ string }

func (d dialogTypes) get(id string) (string, bool) {
	for _, e := range d {
		if e.id == id {
			return e.typ, true
		}
	}
	return "", false
}

func (d *dialogTypes) set(id, typ string) {
	switch typ { // the constants rather than the decoded copies, kept per conversation
	case dialogMain:
		typ = dialogMain
	case dialogSurvey:
		typ = dialogSurvey
	}
	for i := range *d {
		if (*d)[i].id == id {
			(*d)[i].typ = typ
			return
		}
	}
	*d = append(*d, struct{ id, typ string }{id, typ})
}
