package openai

import (
	"strconv"

	"github.com/botrelay/botrelay"
)

// fields describe Config for the dashboard's generated form.
var fields = []botrelay.VendorField{
	{Key: "baseUrl", Label: "API base URL", Type: botrelay.FieldURL, Default: DefaultBaseURL},
	{Key: "model", Label: "Model", Type: botrelay.FieldString, Required: true, Help: `e.g. "gpt-4o-mini"`},
	{Key: "apiKey", Label: "API key", Type: botrelay.FieldString},
	{Key: "systemPrompt", Label: "System prompt", Type: botrelay.FieldText},
	{Key: "welcomePrompt", Label: "Welcome prompt", Type: botrelay.FieldText},
	{Key: "temperature", Label: "Temperature", Type: botrelay.FieldNumber, Help: "0 to 2; empty: the server's default."},
	{Key: "maxHistoryMessages", Label: "History messages", Type: botrelay.FieldNumber, Default: strconv.Itoa(DefaultMaxHistoryMessages)},
	{Key: "maxHistoryBytes", Label: "History bytes", Type: botrelay.FieldNumber, Default: strconv.Itoa(DefaultMaxHistoryBytes)},
	{Key: "maxTokensPerConversation", Label: "Token budget per conversation", Type: botrelay.FieldNumber, Default: "0"},
	{Key: "maxLatencyMs", Label: "Latency budget (ms)", Type: botrelay.FieldNumber, Default: "0"},
	{Key: "transferSkills", Label: "Transfer skills", Type: botrelay.FieldList, Help: "The only skill names the transfer tool offers; empty: all."},
	{Key: "disableTools", Label: "Disable tools", Type: botrelay.FieldBoolean, Help: "For servers without function calling."},
}
