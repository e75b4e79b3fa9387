package liveperson

import (
	"context"
	"encoding/json"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

var _ botrelay.EngagementAttributesReader = (*Adapter)(nil)

// EngagementAttributes implements botrelay.EngagementAttributesReader: it
// asks GetUserProfile for the conversation's consumer, which answers the
// consumer's engagement attributes on LivePerson and on the hub, and
// returns them as lpSdes.
func (a *Adapter) EngagementAttributes(ctx context.Context, conv botrelay.ConversationRef) (json.RawMessage, error) {
	if conv.ConsumerID == "" {
		return nil, invalidf("the conversation has no consumer")
	}
	resp, err := a.request(ctx, ".ams.userprofile.GetUserProfile", map[string]string{"userId": string(conv.ConsumerID)}, nil, "")
	if err != nil {
		return nil, err
	}
	sdes, err := ums.SDEsFromProfile(resp)
	if err != nil {
		return nil, invalidf("GetUserProfile of consumer %s did not answer a list of engagement attributes", conv.ConsumerID)
	}
	return sdes, nil
}
