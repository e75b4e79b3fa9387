package dialogflow

import "github.com/botrelay/botrelay"

// credentialFields describe Credentials for the dashboard's generated forms.
var credentialFields = []botrelay.VendorField{
	{Key: "clientEmail", Label: "Client email", Type: botrelay.FieldString,
		Help: "The service account's client_email; or give the whole key file below."},
	{Key: "privateKey", Label: "Private key", Type: botrelay.FieldText, Help: "The service account's private_key (PEM)."},
	{Key: "serviceAccountJson", Label: "Service account key file", Type: botrelay.FieldJSON,
		Help: "The whole JSON key file, instead of client email and private key."},
	{Key: "scopes", Label: "OAuth scopes", Type: botrelay.FieldString, Default: DefaultScope},
	{Key: "serviceLocation", Label: "API host", Type: botrelay.FieldString, Help: "Default: derived from the location."},
}

var esFields = append([]botrelay.VendorField{
	{Key: "languageCode", Label: "Language code", Type: botrelay.FieldString, Required: true, Help: `e.g. "en-US"`},
	{Key: "projectId", Label: "Project ID", Type: botrelay.FieldString, Help: "Default: the key file's project."},
	{Key: "location", Label: "Location", Type: botrelay.FieldString, Help: "The agent's region for regional agents; empty for the global agent."},
	{Key: "environment", Label: "Environment", Type: botrelay.FieldString, Help: "Empty: the draft."},
}, credentialFields...)

var cxFields = append([]botrelay.VendorField{
	{Key: "languageCode", Label: "Language code", Type: botrelay.FieldString, Required: true, Help: `e.g. "en"`},
	{Key: "projectId", Label: "Project ID", Type: botrelay.FieldString, Help: "Default: the key file's project."},
	{Key: "location", Label: "Location", Type: botrelay.FieldString, Required: true, Help: `e.g. "us-central1" or "global"`},
	{Key: "agentId", Label: "Agent ID", Type: botrelay.FieldString, Required: true},
	{Key: "environmentId", Label: "Environment ID", Type: botrelay.FieldString, Help: "Empty: the draft flow."},
}, credentialFields...)
