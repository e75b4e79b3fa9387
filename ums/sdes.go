package ums

import (
	"encoding/json"
)

// Engagement attributes (SDEs) come in two shapes. GetUserProfile answers a
// consumer's as LivePerson does: an array of entries {"type", <payload
// key>: {…}, "auth": bool, "serverTimeStamp"?}, e.g.
// {"type":"ctmrinfo","info":{"cstatus":"gold"}}. Vendors get them as
// lpSdes (spec F13): {"unauthenticatedSdes":{"customerInfo":
// {"customerInfo":{…},"serverTimeStamp"?}},"authenticatedSdes":{…}}.
// SDEKinds maps one to the other.

// SDEKind is one engagement attribute type.
type SDEKind struct {
	Type    string // LivePerson's entry type, e.g. "ctmrinfo"
	Payload string // the entry's payload key, e.g. "info"
	Key     string // the lpSdes key, e.g. "customerInfo"
}

// SDEKinds are the engagement attribute types botrelay maps.
var SDEKinds = []SDEKind{
	{"ctmrinfo", "info", "customerInfo"},
	{"personal", "personal", "personalInfo"},
	{"cart", "cart", "cartStatus"},
	{"purchase", "purchase", "purchase"},
	{"prodView", "products", "viewedProduct"},
	{"mrktInfo", "info", "marketingCampaignInfo"},
	{"lead", "lead", "lead"},
	{"service", "service", "serviceActivity"},
	{"error", "error", "visitorError"},
}

func kindByType(t string) (SDEKind, bool) {
	for _, k := range SDEKinds {
		if k.Type == t {
			return k, true
		}
	}
	return SDEKind{}, false
}

// SDEsFromProfile turns a consumer's GetUserProfile answer (an array of
// entries) into lpSdes. Entries of unknown types are left out; entries of
// the same type and authentication are merged, a null never replacing a
// value (F13).
func SDEsFromProfile(profile json.RawMessage) (json.RawMessage, error) {
	var entries []map[string]any
	if err := json.Unmarshal(profile, &entries); err != nil {
		return nil, err
	}
	out := map[string]map[string]map[string]any{}
	for _, e := range entries {
		t, _ := e["type"].(string)
		k, ok := kindByType(t)
		if !ok {
			continue
		}
		group := "unauthenticatedSdes"
		auth := e["auth"] == true
		if auth {
			group = "authenticatedSdes"
		}
		if out[group] == nil {
			out[group] = map[string]map[string]any{}
		}
		entry := out[group][k.Key]
		if entry == nil {
			entry = map[string]any{}
			if auth {
				entry["type"], entry["auth"] = k.Type, map[string]any{}
			}
			out[group][k.Key] = entry
		}
		if ts, ok := e["serverTimeStamp"]; ok && ts != nil {
			entry["serverTimeStamp"] = ts
		}
		payload, _ := e[k.Payload].(map[string]any)
		body, _ := entry[k.Key].(map[string]any)
		if body == nil {
			body = map[string]any{}
		}
		for f, v := range payload {
			if v != nil || body[f] == nil {
				body[f] = v
			}
		}
		entry[k.Key] = body
	}
	return json.Marshal(out)
}

// ProfileFromSDEs turns lpSdes into a GetUserProfile answer.
func ProfileFromSDEs(sdes json.RawMessage) []map[string]any {
	var groups map[string]map[string]map[string]any
	_ = json.Unmarshal(sdes, &groups)
	out := []map[string]any{}
	for _, g := range []string{"unauthenticatedSdes", "authenticatedSdes"} {
		for _, k := range SDEKinds {
			entry, ok := groups[g][k.Key]
			if !ok {
				continue
			}
			e := map[string]any{"type": k.Type, "auth": g == "authenticatedSdes"}
			if body, ok := entry[k.Key]; ok {
				e[k.Payload] = body
			} else {
				e[k.Payload] = entry
			}
			if ts, ok := entry["serverTimeStamp"]; ok {
				e["serverTimeStamp"] = ts
			}
			out = append(out, e)
		}
	}
	return out
}
