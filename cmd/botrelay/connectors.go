package main

import (
	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/all"
)

// newRegistry is the registry of the vendor connectors built into botrelay
// (the one list is connectors/all).
func newRegistry() *botrelay.Registry {
	r := botrelay.NewRegistry()
	r.RegisterVendor(all.Connectors()...)
	return r
}
