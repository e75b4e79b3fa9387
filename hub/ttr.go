package hub

import (
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// maxCustomTTR bounds a CUSTOM time to response (one year).
const maxCustomTTR = 365 * 24 * time.Hour

// customTTR reads the value of a TTRField with ttrType CUSTOM: seconds, as
// a number or a non-empty numeric string (the Custom Endpoint schema). The
// hub keeps it as the conversation's expected time to response
// (ManualETTR, from now); the TTR type stays as it was.
func customTTR(v any) (time.Duration, error) {
	var secs float64
	switch x := v.(type) {
	case float64:
		secs = x
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, botrelay.Errorf(botrelay.EINVALID, "ttrType CUSTOM: value %q is not a number of seconds", x)
		}
		secs = f
	case nil:
		return 0, botrelay.Errorf(botrelay.EINVALID, "ttrType CUSTOM needs value, the time to response in seconds")
	default:
		return 0, botrelay.Errorf(botrelay.EINVALID, "ttrType CUSTOM: value must be a number of seconds")
	}
	d := time.Duration(secs * float64(time.Second))
	if secs <= 0 || d > maxCustomTTR {
		return 0, botrelay.Errorf(botrelay.EINVALID, "ttrType CUSTOM: value must be between 1 and %d seconds", int(maxCustomTTR/time.Second))
	}
	return d, nil
}
