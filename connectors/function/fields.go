package function

import (
	"strconv"

	"github.com/botrelay/botrelay"
)

// settingFields describe Settings for the dashboard's generated form.
var settingFields = []botrelay.VendorField{
	{Key: "code", Label: "Function code (JavaScript)", Type: botrelay.FieldCode, Required: true,
		Help: "Defines lambda(input, callback); see docs/vendors/function.md."},
	{Key: "timeoutMs", Label: "Timeout (ms)", Type: botrelay.FieldNumber, Default: strconv.Itoa(int(DefaultTimeout.Milliseconds())),
		Help: "How long one call may run, 1 to 60000 ms."},
	{Key: "memoryLimitMB", Label: "Memory limit (MB)", Type: botrelay.FieldNumber, Default: strconv.Itoa(DefaultMemoryLimitMB),
		Help: "The memory guard's limit per call, 8 to 1024 MB."},
	{Key: "env", Label: "Environment", Type: botrelay.FieldJSON,
		Help: `A JSON object of strings the script reads as process.env, e.g. {"GREETING": "Hi"}.`},
}
