package botrelay

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
)

// Registry holds the vendor connectors botrelay knows. cmd/botrelay builds
// the one list; tests build their own.
type Registry struct {
	vendors map[string]VendorConnector
}

var vendorIDPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{vendors: map[string]VendorConnector{}} }

// RegisterVendor adds connectors. It panics on an empty, malformed or
// duplicate id, and on a vendor with secrets that names no endpoint
// settings (VendorInfo.Endpoint) or names a secret as one: wiring mistakes
// that must fail at start, not at run time.
func (r *Registry) RegisterVendor(cs ...VendorConnector) {
	for _, c := range cs {
		info := c.Info()
		id := info.ID
		if !vendorIDPattern.MatchString(id) {
			panic(fmt.Sprintf("botrelay: vendor id %q is not lower_snake", id))
		}
		if len(info.Secrets) > 0 && len(info.Endpoint) == 0 {
			panic(fmt.Sprintf("botrelay: vendor %q has secrets but declares no endpoint settings (VendorInfo.Endpoint)", id))
		}
		for _, k := range info.Endpoint {
			if slices.Contains(info.Secrets, k) {
				panic(fmt.Sprintf("botrelay: vendor %q declares the secret %q as an endpoint setting", id, k))
			}
		}
		if _, dup := r.vendors[id]; dup {
			panic(fmt.Sprintf("botrelay: vendor %q registered twice", id))
		}
		r.vendors[id] = c
	}
}

// Vendor returns the connector for id, or an EINVALID error naming the ids
// that exist.
func (r *Registry) Vendor(id string) (VendorConnector, error) {
	if c, ok := r.vendors[id]; ok {
		return c, nil
	}
	return nil, Errorf(EINVALID, "vendor %q is not known; known vendors: %v", id, r.VendorIDs())
}

// VendorIDs lists the registered ids, sorted.
func (r *Registry) VendorIDs() []string {
	ids := make([]string, 0, len(r.vendors))
	for id := range r.vendors {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
