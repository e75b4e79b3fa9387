package relay

import "time"

// This file names what the relay logs and what it waits for: the error codes
// it records in bot state events and conversation errors (prefixed with
// botrelay.ErrorCodePrefix), and the tunable numbers of its retries and
// timeouts. The vendors' own codes live in their connectors.

// Error codes the relay itself records.
const (
	// codeTransferSkillNotExisting: a bot's transfer names a skill the platform does not have; the conversation is escalated.
	codeTransferSkillNotExisting = "pipes.messaging-handle-bot-action.transfer-skill-not-existing"
	// codeTransferToSkill: a transfer to a skill, the bot's or an escalation's, failed on the platform.
	codeTransferToSkill = "connector.messaging.transfer-to-skill"
	// codeTransferLoop: an escalation would transfer the conversation to its own skill once more than maxOwnSkillEscalations allows.
	codeTransferLoop = "connector.messaging.transfer-loop"
	// codeEndConversation: closing a conversation (a bot's close or a survey's end) failed on the platform.
	codeEndConversation = "connector.messaging.end-conversation"
	// codeChangeTTR: a bot's change of the time to respond failed on the platform.
	codeChangeTTR = "connector.messaging.change-ttr"
	// codeSendMessage: publishing a bot message failed; the conversation is escalated.
	codeSendMessage = "connector.messaging.send-message"
	// codeChatEndConversation: closing an inactive chat failed on the platform.
	codeChatEndConversation = "connector.chat.end-conversation"
	// codeInvokeLambda: a bot action's function failed to run.
	codeInvokeLambda = "aivendor.faas.invoke-lambda"
	// codeFailedFaasRequest: a bot action names a function the bot does not define.
	codeFailedFaasRequest = "aivendor.faas.failed-faas-request"
	// codeFailedHook: a pre-, post- or error-hook failed.
	codeFailedHook = "aivendor.faas.failed-hook"
	// codeMaxConvLimit: the bot holds its maximum of open conversations; the new one is escalated (F5).
	codeMaxConvLimit = "pipes.conversation-limit-checker.max-conv-limit-reached"
	// codeVendorInterruptionEscalated: a conversation arrived during Vendor Interruption and is escalated (F4).
	codeVendorInterruptionEscalated = "pipes.vendor-interruption.escalated"
	// codeQuickRepliesNotSupported: the vendor's reply has quick replies the channel cannot show.
	codeQuickRepliesNotSupported = "pipes.verify-ai-response.quick-replies-not-supported"
	// codeNoMessagesUnsupportedAction: the vendor's reply has no message and an action the relay does not know.
	codeNoMessagesUnsupportedAction = "pipes.verify-ai-response.no-messages-and-not-supported-action"
	// codeMissingActionAndMessages: the vendor's reply has neither a message nor an action.
	codeMissingActionAndMessages = "pipes.verify-ai-response.missing-action-and-messages"
	// codePipelineError: a turn failed with an error that names no code of
	// its own; the conversation is escalated.
	codePipelineError = "events-queue.not-catched-pipeline-error"
	// codeSDEsEmpty: the conversation has no engagement attributes to read.
	codeSDEsEmpty = "sdes-service.uauth-sdes-entry-is-empty"
	// codeServiceInterruption: the platform session failed: the bot state is Service Interruption.
	codeServiceInterruption = "connector.service-interruption"
	// codeConfiguration: the bot's configuration is invalid: the bot state is Service Interruption.
	codeConfiguration = "connector.configuration"
	// codeTestConnection: the vendor's health check failed: the bot state is Vendor Interruption (F4).
	codeTestConnection = "aivendor.test-connection"
)

// The relay's tunable numbers.
const (
	// defaultConnectTimeout is Options.ConnectTimeout when it is zero.
	defaultConnectTimeout = 30 * time.Second
	// defaultDrainTimeout is Options.DrainTimeout when it is zero.
	defaultDrainTimeout = 10 * time.Second
	// acceptTimeout bounds the acceptance of one ring.
	acceptTimeout = 10 * time.Second
	// functionTimeout bounds one function run: a bot action's function or an
	// error-hook.
	functionTimeout = 30 * time.Second
	// recordTimeout bounds the write of a bot state event or a conversation
	// error, which happens even while stopping.
	recordTimeout = 5 * time.Second
	// startPollInterval is how often waitStarted looks at the bot's state.
	startPollInterval = 20 * time.Millisecond
	// vendorRetryBackoff is the first pause before a vendor call that found
	// the vendor unavailable is tried again (F42); it doubles each time.
	vendorRetryBackoff = 250 * time.Millisecond
	// historyRetryPause is the first pause before a failed history read is
	// tried again; it doubles each time.
	historyRetryPause = 500 * time.Millisecond
)

// maxOwnSkillEscalations is how many times a conversation is escalated to
// the bot's own skill before the bot stops transferring it (F32).
const maxOwnSkillEscalations = 3

// historyTries is how many times a conversation's history is read before
// the worker gives up for now (catchUpLater).
const historyTries = 4

// catchUpRetry is how long a worker whose history could not be read waits
// before it tries again by itself.
const catchUpRetry = 5 * time.Second

// maxHistoryReads is how many history reads one bot has in flight.
const maxHistoryReads = 16

// maxStateLoads is how many conversation states the whole node reads at
// once when assignments arrive. A node restarted with a million open
// conversations gets them all within seconds of its bots' logins; read
// all at once they queued thousands deep in front of the store, the
// logins of the bots still starting waited behind them past their
// timeout, and those bots went into Service Interruption and began
// handing their conversations back.
const maxStateLoads = 8

// maxStarting is how many bots of the node connect to their platform at
// once; the others wait their turn in STARTING.
const maxStarting = 8

// saveTimeout bounds one store write that must happen even while stopping.
const saveTimeout = 10 * time.Second

// maxUnsavedTurns bounds the turns a conversation finishes without storing
// its state, and so the history a restart reads to find where it was.
const maxUnsavedTurns = 16

// sendQueryCode is the code of a vendor call that timed out, for a vendor
// whose connector declares no timeout code of its own.
func sendQueryCode(vendor string) string { return "aivendor." + vendor + ".send-query" }
