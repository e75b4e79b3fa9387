package lex

import "github.com/botrelay/botrelay"

// awsFields describe AWSSettings for the dashboard's generated forms.
var awsFields = []botrelay.VendorField{
	{Key: "region", Label: "Region", Type: botrelay.FieldString, Required: true, Help: `e.g. "us-east-1"`},
	{Key: "accessKeyId", Label: "Access key ID", Type: botrelay.FieldString, Required: true},
	{Key: "secretAccessKey", Label: "Secret access key", Type: botrelay.FieldString, Required: true},
	{Key: "sessionToken", Label: "Session token", Type: botrelay.FieldString, Help: "Only for temporary credentials."},
	{Key: "endpoint", Label: "Runtime endpoint", Type: botrelay.FieldURL, Help: "Overrides the regional runtime host (private endpoints)."},
}

var fieldsV1 = append([]botrelay.VendorField{
	{Key: "botName", Label: "Bot name", Type: botrelay.FieldString, Required: true},
	{Key: "botAlias", Label: "Bot alias", Type: botrelay.FieldString, Required: true, Help: `An alias, or "$LATEST".`},
}, awsFields...)

var fieldsV2 = append([]botrelay.VendorField{
	{Key: "botId", Label: "Bot ID", Type: botrelay.FieldString, Required: true},
	{Key: "botAliasId", Label: "Bot alias ID", Type: botrelay.FieldString, Required: true, Help: `"TSTALIASID" is the draft's test alias.`},
	{Key: "localeId", Label: "Locale ID", Type: botrelay.FieldString, Required: true, Help: `e.g. "en_US"`},
}, awsFields...)
