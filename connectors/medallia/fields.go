package medallia

import "github.com/botrelay/botrelay"

// fields describe Config for the dashboard's generated form.
var fields = []botrelay.VendorField{
	{Key: "baseUrl", Label: "Survey service URL", Type: botrelay.FieldURL, Required: true},
	{Key: "clientId", Label: "Client ID", Type: botrelay.FieldString, Required: true},
	{Key: "clientSecret", Label: "Client secret", Type: botrelay.FieldString, Required: true},
	{Key: "surveyAppId", Label: "Survey App ID", Type: botrelay.FieldString, Required: true},
	{Key: "tokenUrl", Label: "Token URL", Type: botrelay.FieldURL, Help: "Default: {baseUrl}/oauth/token."},
}
