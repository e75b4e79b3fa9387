package watson

import "github.com/botrelay/botrelay"

// authFields describe Auth for the dashboard's generated forms.
var authFields = []botrelay.VendorField{
	{Key: "apiKey", Label: "API key", Type: botrelay.FieldString,
		Help: "An IBM Cloud API key (IAM); or give a user name and password instead."},
	{Key: "tokenEndpointUrl", Label: "IAM token endpoint", Type: botrelay.FieldURL, Default: DefaultTokenURL},
	{Key: "username", Label: "User name", Type: botrelay.FieldString, Help: "Basic authentication (UserPass), with the password."},
	{Key: "password", Label: "Password", Type: botrelay.FieldString},
}

var fieldsV1 = append([]botrelay.VendorField{
	{Key: "workspaceUrl", Label: "Workspace URL", Type: botrelay.FieldURL, Required: true,
		Help: "e.g. https://api.eu-de.assistant.watson.cloud.ibm.com/instances/<id>"},
	{Key: "workspaceId", Label: "Workspace ID", Type: botrelay.FieldString, Required: true},
	{Key: "versionDate", Label: "Version date", Type: botrelay.FieldString, Default: DefaultVersionV1, Help: "YYYY-MM-DD"},
}, authFields...)

var fieldsV2 = append([]botrelay.VendorField{
	{Key: "url", Label: "Service URL", Type: botrelay.FieldURL, Required: true},
	{Key: "assistantId", Label: "Assistant ID", Type: botrelay.FieldString, Required: true},
	{Key: "versionDate", Label: "Version date", Type: botrelay.FieldString, Default: DefaultVersionV2, Help: "YYYY-MM-DD"},
}, authFields...)
