package api

import (
	"net/http"
	"slices"
	"sort"

	"github.com/botrelay/botrelay"
)

type vendorJSON struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Secrets     []string `json:"secrets"`
	Endpoint    []string `json:"endpoint"`
	Survey      bool     `json:"survey"`
	// SurveyOnly vendors run survey bots only (Medallia).
	SurveyOnly bool `json:"surveyOnly"`
	// Fields describe the settings for generated forms, in form order.
	Fields []vendorFieldJSON `json:"fields"`
}

// vendorFieldJSON is one botrelay.VendorField; Secret is true for the keys
// of VendorInfo.Secrets (write-only: stored encrypted, never returned).
type vendorFieldJSON struct {
	Key      string             `json:"key"`
	Label    string             `json:"label"`
	Type     botrelay.FieldType `json:"type"`
	Required bool               `json:"required"`
	Secret   bool               `json:"secret"`
	Options  []string           `json:"options,omitempty"`
	Default  string             `json:"default,omitempty"`
	Help     string             `json:"help,omitempty"`
}

func toVendorJSON(info botrelay.VendorInfo) vendorJSON {
	v := vendorJSON{ID: info.ID, DisplayName: info.DisplayName, Secrets: nonNil(info.Secrets),
		Endpoint: nonNil(info.Endpoint), Survey: info.Survey, SurveyOnly: info.SurveyOnly,
		Fields: make([]vendorFieldJSON, 0, len(info.Fields))}
	for _, f := range info.Fields {
		v.Fields = append(v.Fields, vendorFieldJSON{Key: f.Key, Label: f.Label, Type: f.Type, Required: f.Required,
			Secret: slices.Contains(info.Secrets, f.Key), Options: f.Options, Default: f.Default, Help: f.Help})
	}
	return v
}

func (a *API) listVendors(w http.ResponseWriter, r *http.Request) {
	ids := a.o.Registry.VendorIDs()
	sort.Strings(ids)
	out := make([]vendorJSON, 0, len(ids))
	for _, id := range ids {
		c, err := a.o.Registry.Vendor(id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out = append(out, toVendorJSON(c.Info()))
	}
	writeJSON(w, http.StatusOK, out)
}
