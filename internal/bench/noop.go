package bench

import (
	"context"
	"encoding/json"

	"github.com/botrelay/botrelay"
)

// NoopVendorID is the id of the vendor the bench registers in the servers it
// starts. It is never part of a normal botrelay build.
const NoopVendorID = "bench_noop"

// NoopConnector is an instant vendor: every consumer text comes straight
// back as the reply's one text, and a welcome turn gets no reply. It does no
// I/O and keeps no state, so what the bench measures is botrelay itself.
type NoopConnector struct{}

var _ botrelay.VendorConnector = NoopConnector{}

// Info implements botrelay.VendorConnector.
func (NoopConnector) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: NoopVendorID, DisplayName: "Bench no-op (echo)", RetriesInternally: true}
}

// NewBot implements botrelay.VendorConnector; any settings are accepted.
func (NoopConnector) NewBot(json.RawMessage, botrelay.BotEnv) (botrelay.VendorBot, error) {
	return noopBot{}, nil
}

type noopBot struct{}

// Converse echoes the consumer's text.
func (noopBot) Converse(_ context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	if t.Text == "" {
		return &botrelay.Reply{}, nil
	}
	return &botrelay.Reply{Items: []botrelay.Item{{Message: &botrelay.Message{Text: t.Text}}}}, nil
}

// CheckHealth reports the vendor healthy.
func (noopBot) CheckHealth(context.Context) error { return nil }

// EchoFunctionCode is the function-vendor bot the bench runs: the same echo
// as NoopConnector, in JavaScript, through the goja sandbox.
const EchoFunctionCode = `function lambda(input, callback) {
  var m = input.payload.message;
  if (!m || (input.payload.event && input.payload.event.name === "WELCOME")) { callback(null, {messages: []}); return; }
  callback(null, {messages: [m]});
}`
