package liveperson

import (
	"strings"

	"github.com/botrelay/botrelay"
)

// TTRCustom is the TTR type whose time the bot gives in seconds.
const TTRCustom = "CUSTOM"

// ttrField is the TTRField update for a TTR type: URGENT, NORMAL and
// PRIORITIZED as they are, CUSTOM with its value in seconds.
func ttrField(ttr string, seconds int) (map[string]any, error) {
	t := strings.ToUpper(strings.TrimSpace(ttr))
	if t == TTRCustom {
		if seconds <= 0 {
			return nil, invalidf("ttr CUSTOM needs a positive value in seconds, got %d", seconds)
		}
		return map[string]any{"field": "TTRField", "ttrType": TTRCustom, "value": seconds}, nil
	}
	if !botrelay.TTRType(t).Valid() {
		return nil, invalidf("ttr %q must be URGENT, NORMAL, PRIORITIZED or CUSTOM", ttr)
	}
	return map[string]any{"field": "TTRField", "ttrType": t}, nil
}
