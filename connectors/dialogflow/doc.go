// Package dialogflow holds the vendor connectors "dialogflow_es" (Dialogflow
// ES, API v2) and "dialogflow_cx" (Dialogflow CX, API v3), spec
// third-party-bots.md §3.4 and §3.5. Both call Sessions.DetectIntent over
// gRPC with Google's official client (cloud.google.com/go/dialogflow), one
// Dialogflow session per conversation:
//
//	ES  projects/{project}[/locations/{location}]/agent[/environments/{env}/users/-]/sessions/{session}
//	CX  projects/{project}/locations/{location}/agents/{agent}[/environments/{env}]/sessions/{session}
//
// The session id is the conversation id when it is a valid Dialogflow session
// id (at most 36 letters, digits, '-', '_' or '.'; botrelay's ids are UUIDs),
// otherwise the first 36 hex digits of its SHA-256. Sessions expire at Google,
// so the connectors keep no vendor state and need no Ender.
//
// Every request carries queryParams.payload = {"lpEvent": …, "lpSdes": …}
// (F14; lpSdes is {} when engagement attributes are off). A welcome turn
// (F11, F12) is the event WELCOME, its lpEvent completed with
// contentType/content "welcome" and lastConsumerMessage; text longer than the
// vendor limit is replaced by the event DIALOGFLOW_CHAR_LIMIT (F6): more than
// 256 characters for ES, more than 255 for CX (the figures of the spec's
// ES and CX pages). Rich content and files go as their event identifiers.
//
// Replies. Custom payloads (both vendors) are the reference product's:
// {"structuredContent", "metadata", "encodedMetadata"} (a structuredContent
// with "quickReplies" and "message" is a text with quick replies, F19),
// {"delay", "typing"}, {"messageAudience": "AGENTS_AND_MANAGERS", "text"},
// {"textResponse", "encodedMetadata"}. ES also maps its native text,
// quickReplies, card and image messages (cards and images become LivePerson
// vertical structured content), reads the action from queryResult.action with
// its parameters, and uses only the default-platform messages when the intent
// has any (else all of them). CX reads actions from payloads
// {"action": {"name", "parameters"}}; several actions in one reply are the
// error dialogflowcx.parse-message.multiple-actions. Choices where the spec is
// silent:
//   - ES: queryResult.action values that are not all upper case (Dialogflow's
//     own "input.welcome", "input.unknown", …) are not actions; unknown upper
//     case names go to Reply.Skipped, as unknown CX action names do (F16).
//   - CX: liveAgentHandoff whose metadata has "skill" is a TRANSFER (with
//     "agentId" when present); without a skill it is listed in Skipped.
//     endInteraction is ignored (Dialogflow emits it at every End Session
//     page; bots close with the CLOSE_CONVERSATION payload), as are voice
//     messages and webhookPayloads (their messages are in responseMessages).
//   - Custom payloads of another shape (e.g. for other platforms) are
//     skipped and logged; malformed known shapes are parse errors
//     (dialogflowcx.parse-message.parser-error, and for ES the analogous
//     dialogflowv2.parse-message.parser-error).
//   - The matched intent (ES queryResult.intent, CX queryResult.match.intent)
//     becomes Reply.Intents with the last segment of its name as id.
//
// Credentials: a service-account key, either whole (serviceAccountJson) or
// as clientEmail + privateKey. Requests carry a self-signed service-account
// JWT with the cloud-platform scope (what Google's client libraries do by
// default for such keys; no token endpoint is involved). The client's own
// retries are switched off: the relay applies F42.
//
// Connection test (F2, F4): GetAgent on the configured agent (ES: the
// project's agent; CX: the agent id), which proves the key, the project, the
// agent and the region without starting a conversation, costing nothing and
// leaving no analytics behind. It needs the permission dialogflow.agents.get.
//
// Test hook: when serviceLocation is a loopback address (localhost,
// 127.0.0.0/8, ::1), the client connects without TLS and without Google's
// authentication layer, and sends the same self-signed JWT as a plain bearer
// header, so in-process fakes can check it. No other address gets this.
package dialogflow
