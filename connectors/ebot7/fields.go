package ebot7

import "github.com/botrelay/botrelay"

// fields describe Config for the dashboard's generated form.
var fields = []botrelay.VendorField{
	{Key: "appKey", Label: "App key", Type: botrelay.FieldString, Required: true},
	{Key: "botId", Label: "Bot ID", Type: botrelay.FieldString, Required: true},
	{Key: "botResponseDelay", Label: "Response delay (s)", Type: botrelay.FieldNumber, Default: "1",
		Help: "How long to collect the bot's answers after each message, at most 60 s."},
	{Key: "baseUrl", Label: "API base URL", Type: botrelay.FieldURL, Default: DefaultBaseURL},
}
