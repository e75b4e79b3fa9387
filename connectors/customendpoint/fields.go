package customendpoint

import "github.com/botrelay/botrelay"

// fields describe Config for the dashboard's generated form.
var fields = []botrelay.VendorField{
	{Key: "baseUrl", Label: "Base URL", Type: botrelay.FieldURL, Required: true,
		Help: "The endpoint service's base URL, e.g. https://bots.example.com/api."},
	{Key: "botId", Label: "Bot ID", Type: botrelay.FieldString, Required: true,
		Help: "The bot's id at the endpoint: letters, digits and -, at most 36 characters."},
	{Key: "environment", Label: "Environment", Type: botrelay.FieldString, Default: "draft"},
	{Key: "clientId", Label: "Client ID", Type: botrelay.FieldString,
		Help: "The sub claim of the token botrelay signs, or the client_id sent to the token URL."},
	{Key: "clientSecret", Label: "Client secret", Type: botrelay.FieldString,
		Help: "Required with a token URL, unused without."},
	{Key: "tokenUrl", Label: "Token URL", Type: botrelay.FieldURL,
		Help: "An OAuth 2.0 token endpoint (client credentials); empty: botrelay signs the bearer token."},
}
