package main

import (
	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/customendpoint"
	"github.com/botrelay/botrelay/connectors/function"
)

// newRegistry is the one list of vendor connectors built into botrelay.
func newRegistry() *botrelay.Registry {
	r := botrelay.NewRegistry()
	r.RegisterVendor(
		function.Connector{},
		customendpoint.Connector{},
	)
	return r
}
