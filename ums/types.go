package ums

import "encoding/json"

// Request types. The agent side uses LivePerson's ".ams." names; the
// consumer side uses the same names without the ".ams." prefix. The hub
// accepts either spelling on either side (see Canonical).
const (
	TypeGetClock                      = ".GetClock"
	TypeSetAgentState                 = ".ams.routing.SetAgentState"
	TypeSubscribeRoutingTasks         = ".ams.routing.SubscribeRoutingTasks"
	TypeUpdateRoutingTaskSubscription = ".ams.routing.UpdateRoutingTaskSubscription"
	TypeUpdateRingState               = ".ams.routing.UpdateRingState"
	TypeSubscribeAgentsState          = ".ams.routing.SubscribeAgentsState"
	TypeSubscribeExConversations      = ".ams.aam.SubscribeExConversations"
	TypeUnsubscribeExConversations    = ".ams.aam.UnsubscribeExConversations"
	TypeUpdateConversationField       = ".ams.cm.UpdateConversationField"
	TypeAgentRequestConversation      = ".ams.cm.AgentRequestConversation"
	TypePublishEvent                  = ".ams.ms.PublishEvent"
	TypeQueryMessages                 = ".ams.ms.QueryMessages"
	TypeGenerateDownloadURL           = ".ams.ms.GenerateURLForDownloadFile"
	TypeGenerateUploadURL             = ".ams.ms.GenerateURLForUploadFile"
	TypeGetUserProfile                = ".ams.userprofile.GetUserProfile"

	// Consumer-side requests.
	TypeConsumerRequestConversation = "cm.ConsumerRequestConversation"
	TypeConsumerSubscribeExConvs    = "cqm.SubscribeExConversations"
	TypeConsumerUnsubscribeExConvs  = "cqm.UnsubscribeExConversations"
	TypeSubscribeMessagingEvents    = "ms.SubscribeMessagingEvents"
)

// Notification types.
const (
	NotifyRoutingTask             = ".ams.routing.RoutingTaskNotification"
	NotifyAgentState              = ".ams.routing.AgentStateNotification"
	NotifyExConversationChange    = ".ams.aam.ExConversationChangeNotification"
	NotifyOnlineEventDistribution = ".ams.ms.OnlineEventDistribution"

	NotifyConsumerConversationChange = "cqm.ExConversationChangeNotification"
	NotifyMessagingEvent             = "ms.MessagingEventNotification"
)

// Canonical returns the request type with any ".ams." prefix removed and a
// leading dot kept only for ".GetClock", so "ms.PublishEvent" and
// ".ams.ms.PublishEvent" compare equal.
func Canonical(typ string) string {
	switch {
	case len(typ) > 5 && typ[:5] == ".ams.":
		return typ[5:]
	case typ == ".GetClock" || typ == "GetClock":
		return "GetClock"
	}
	return typ
}

// ConversationField is one item of UpdateConversationField's
// conversationField list. Which fields are set depends on Field.
type ConversationField struct {
	Field string `json:"field"`
	// ParticipantsChange: Type ADD, REMOVE or SUGGEST, Role, UserID.
	// Skill: Type UPDATE, Skill.
	Type   string `json:"type,omitempty"`
	Role   string `json:"role,omitempty"`
	UserID string `json:"userId,omitempty"`
	Skill  any    `json:"skill,omitempty"`
	// ConversationStateField.
	ConversationState string `json:"conversationState,omitempty"`
	// DialogChange.
	Dialog *DialogChange `json:"dialog,omitempty"`
	// TTRField; Value (seconds, a number or a numeric string) goes with
	// ttrType CUSTOM.
	TTRType string `json:"ttrType,omitempty"`
	Value   any    `json:"value,omitempty"`
	// ManualETTR (milliseconds since the epoch).
	Time int64 `json:"time,omitempty"`
}

// DialogChange is the dialog of a DialogChange field.
type DialogChange struct {
	DialogID string `json:"dialogId"`
	State    string `json:"state"`
}

// UpdateConversationFieldBody is the body of UpdateConversationField.
type UpdateConversationFieldBody struct {
	ConversationID    string              `json:"conversationId"`
	ConversationField []ConversationField `json:"conversationField"`
}

// PublishEventBody is the body of PublishEvent.
type PublishEventBody struct {
	DialogID        string          `json:"dialogId"`
	ConversationID  string          `json:"conversationId,omitempty"`
	Event           json.RawMessage `json:"event"`
	MessageAudience string          `json:"messageAudience,omitempty"`
}

// QueryMessagesBody is the body of QueryMessages.
type QueryMessagesBody struct {
	DialogID          string `json:"dialogId"`
	ConversationID    string `json:"conversationId,omitempty"`
	NewerThanSequence int64  `json:"newerThanSequence"`
	MaxQuantity       int    `json:"maxQuantity,omitempty"`
}

// SubscribeExConversationsBody is the body of SubscribeExConversations.
type SubscribeExConversationsBody struct {
	BrandID    string   `json:"brandId,omitempty"`
	AgentIDs   []string `json:"agentIds,omitempty"`
	ConsumerID string   `json:"consumerId,omitempty"`
	ConvState  []string `json:"convState,omitempty"`
}

// ConversationDetails is the conversationDetails of a conversation change.
type ConversationDetails struct {
	ConvID                     string              `json:"convId"`
	SkillID                    string              `json:"skillId"`
	BrandID                    string              `json:"brandId"`
	State                      string              `json:"state"`
	Stage                      string              `json:"stage"`
	CloseReason                string              `json:"closeReason,omitempty"`
	StartTs                    int64               `json:"startTs"`
	EndTs                      int64               `json:"endTs,omitempty"`
	MetaDataLastUpdateTs       int64               `json:"metaDataLastUpdateTs"`
	FirstConversation          bool                `json:"firstConversation"`
	TTR                        TTR                 `json:"ttr"`
	ManualETTR                 int64               `json:"manualETTR,omitempty"`
	Context                    json.RawMessage     `json:"context,omitempty"`
	ConversationHandlerDetails HandlerDetails      `json:"conversationHandlerDetails"`
	Participants               map[string][]string `json:"participants"`
	ParticipantsPID            map[string][]string `json:"participantsPId"`
	Dialogs                    []DialogDetails     `json:"dialogs"`
	ParticipantNames           map[string]string   `json:"participantNames,omitempty"`
}

// TTR is a conversation's time to response.
type TTR struct {
	TTRType string `json:"ttrType"`
	Value   int64  `json:"value"`
}

// HandlerDetails names who handles the conversation.
type HandlerDetails struct {
	AccountID string `json:"accountId"`
	SkillID   string `json:"skillId"`
}

// DialogDetails is one dialog of ConversationDetails.
type DialogDetails struct {
	DialogID            string               `json:"dialogId"`
	DialogType          string               `json:"dialogType"`
	ChannelType         string               `json:"channelType"`
	State               string               `json:"state"`
	CreationTs          int64                `json:"creationTs"`
	EndTs               int64                `json:"endTs,omitempty"`
	ClosedBy            string               `json:"closedBy,omitempty"`
	MetaData            map[string]any       `json:"metaData"`
	ParticipantsDetails []ParticipantDetails `json:"participantsDetails"`
	// HandoffSequence is botrelay's extension: the dialog's last sequence
	// when the conversation last changed hands (Dialog.HandoffSequence).
	// The connector answers only the consumer messages after it.
	HandoffSequence int64 `json:"handoffSequence"`
	// LastConsumerSequence is botrelay's extension: the sequence of the
	// dialog's last event the consumer wrote (0: none yet), present when
	// the hub knows it. A connector that resumes a conversation it handled
	// through this sequence need not read its history.
	LastConsumerSequence *int64 `json:"lastConsumerSequence,omitempty"`
}

// ParticipantDetails is one participant of a dialog.
type ParticipantDetails struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	State string `json:"state"`
}

// ConversationChange is one change of a conversation change notification.
type ConversationChange struct {
	Type   string             `json:"type"` // UPSERT or DELETE
	Result ConversationResult `json:"result"`
}

// ConversationResult is the result of a ConversationChange.
type ConversationResult struct {
	ConvID                 string              `json:"convId"`
	EffectiveTTR           int64               `json:"effectiveTTR"`
	LastUpdateTime         int64               `json:"lastUpdateTime"`
	NumberOfUnreadMessages map[string]int      `json:"numberOfunreadMessages"`
	ConversationDetails    ConversationDetails `json:"conversationDetails"`
}

// ConversationChangeBody is the body of a conversation change notification.
type ConversationChangeBody struct {
	SubscriptionID string               `json:"subscriptionId"`
	Changes        []ConversationChange `json:"changes"`
}

// OriginatorMetadata describes who sent a message event.
type OriginatorMetadata struct {
	ID   string `json:"id"`
	Role string `json:"role"`
	Name string `json:"name,omitempty"`
	// UserType is BOT or HUMAN for users (a botrelay extension, so clients
	// can tell bots from people); absent for the consumer.
	UserType string `json:"userType,omitempty"`
}

// MessagingEvent is one message event as delivered: in
// OnlineEventDistribution and QueryMessages answers on the agent side, and
// in MessagingEventNotification changes on the consumer side.
type MessagingEvent struct {
	Sequence           int64              `json:"sequence"`
	ConversationID     string             `json:"conversationId"`
	DialogID           string             `json:"dialogId"`
	ServerTimestamp    int64              `json:"serverTimestamp"`
	OriginatorID       string             `json:"originatorId"`
	OriginatorPID      string             `json:"originatorPId,omitempty"`
	OriginatorMetadata OriginatorMetadata `json:"originatorMetadata"`
	Event              json.RawMessage    `json:"event"`
	MessageAudience    string             `json:"messageAudience,omitempty"`
	Metadata           json.RawMessage    `json:"metadata,omitempty"`
	EncodedMetadata    string             `json:"encodedMetadata,omitempty"`
}

// MessagingEventBody is the body of a consumer MessagingEventNotification.
type MessagingEventBody struct {
	Changes []MessagingEvent `json:"changes"`
}

// RoutingTaskBody is the body of RoutingTaskNotification.
type RoutingTaskBody struct {
	SubscriptionID string              `json:"subscriptionId"`
	Changes        []RoutingTaskChange `json:"changes"`
}

// RoutingTaskChange is one change of RoutingTaskBody.
type RoutingTaskChange struct {
	Type   string            `json:"type"` // UPSERT or DELETE
	Result RoutingTaskResult `json:"result"`
}

// RoutingTaskResult describes one routing task: a conversation ringing.
type RoutingTaskResult struct {
	RoutingTaskID   string        `json:"routingTaskId"`
	BrandID         string        `json:"brandId"`
	ConversationID  string        `json:"conversationId"`
	ConsumerID      string        `json:"consumerId"`
	SkillID         string        `json:"skillId"`
	AssignedAgentID string        `json:"assignedAgentId,omitempty"`
	RingsDetails    []RingDetails `json:"ringsDetails"`
	// botrelay's additions for the agent console (clients that do not
	// know them ignore them): the consumer's name (from the personal
	// engagement attribute of the conversation context), a preview of the
	// consumer's last message and its time, and when the conversation
	// started waiting for an agent (Unix ms).
	ConsumerName          string `json:"consumerName,omitempty"`
	LastConsumerMessage   string `json:"lastConsumerMessage,omitempty"`
	LastConsumerMessageTs int64  `json:"lastConsumerMessageTs,omitempty"`
	WaitingSinceTs        int64  `json:"waitingSinceTs,omitempty"`
}

// RingDetails is one ring of a routing task.
type RingDetails struct {
	RingID           string `json:"ringId"`
	RingState        string `json:"ringState"` // WAITING, ACCEPTED, REJECTED, EXPIRED, CANCELLED
	RingExpirationTs int64  `json:"ringExpirationTs"`
	Weight           int    `json:"weight"`
	BrandID          string `json:"brandId"`
	ConvID           string `json:"convId"`
	ConsumerID       string `json:"consumerId"`
	SkillID          string `json:"skillId"`
}
