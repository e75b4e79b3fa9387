package directline

import "github.com/botrelay/botrelay"

// fields describe Config for the dashboard's generated form.
var fields = []botrelay.VendorField{
	{Key: "secret", Label: "Direct Line secret", Type: botrelay.FieldString, Required: true},
	{Key: "endpoint", Label: "Endpoint", Type: botrelay.FieldURL, Default: DefaultEndpoint},
	{Key: "auth", Label: "Authentication", Type: botrelay.FieldSelect, Options: []string{AuthSecret, AuthToken}, Default: AuthSecret},
	{Key: "multipleActivitiesMs", Label: "Multiple activities (ms)", Type: botrelay.FieldNumber, Default: "0",
		Help: "0 stops at the first replies; N waits N ms for more."},
	{Key: "pva", Label: "Power Virtual Agents", Type: botrelay.FieldBoolean},
	{Key: "polling", Label: "Poll instead of streaming", Type: botrelay.FieldBoolean},
	{Key: "pollIntervalMs", Label: "Poll interval (ms)", Type: botrelay.FieldNumber, Default: "500"},
	{Key: "replyTimeoutMs", Label: "Reply timeout (ms)", Type: botrelay.FieldNumber, Default: "10000"},
}
