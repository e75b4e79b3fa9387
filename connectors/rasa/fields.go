package rasa

import "github.com/botrelay/botrelay"

// fields describe Config for the dashboard's generated form.
var fields = []botrelay.VendorField{
	{Key: "baseUrl", Label: "Rasa server URL", Type: botrelay.FieldURL, Required: true, Help: "e.g. https://rasa.example.com:5005"},
	{Key: "token", Label: "Token", Type: botrelay.FieldString, Help: "Sent with every request when set."},
	{Key: "authMode", Label: "Token sent as", Type: botrelay.FieldSelect, Options: []string{AuthQuery, AuthBearer}, Default: AuthQuery},
	{Key: "welcomeMessage", Label: "Welcome message", Type: botrelay.FieldString, Default: "/welcome"},
}
