package api

import (
	"net/http"
	"sort"
)

type vendorJSON struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Secrets     []string `json:"secrets"`
	Endpoint    []string `json:"endpoint"`
	Survey      bool     `json:"survey"`
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
		info := c.Info()
		out = append(out, vendorJSON{ID: info.ID, DisplayName: info.DisplayName, Secrets: nonNil(info.Secrets),
			Endpoint: nonNil(info.Endpoint), Survey: info.Survey})
	}
	writeJSON(w, http.StatusOK, out)
}
