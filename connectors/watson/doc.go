// Package watson holds the IBM Watson Assistant vendor connectors (spec
// third-party-bots.md §3.2, §3.3; vendors.md §1, §2, "Watson auth"),
// written on the standard library:
//
//   - V1, vendor id "watson_v1": the v1 workspace API,
//     POST {workspaceUrl}/v1/workspaces/{workspaceId}/message?version=…
//   - V2, vendor id "watson_v2": the v2 sessions API,
//     POST {url}/v2/assistants/{assistantId}/sessions[/{sessionId}/message]?version=…
//
// docs/vendors/watson.md is the guide for bot builders.
//
// # Settings
//
// v1: workspaceUrl, workspaceId, versionDate (default 2018-09-20, the
// response format the reply parser is written for). v2: url,
// assistantId, versionDate (default 2021-11-27). Both: either apiKey
// (IAM; tokenEndpointUrl defaults to https://iam.cloud.ibm.com/identity/token)
// or username and password (basic auth). apiKey and password are secret
// (VendorInfo.Secrets). Unknown keys are refused; errors are EINVALID and
// name the setting, never its value.
//
// # Authentication
//
// IAM: the API key is exchanged (grant type
// urn:ibm:params:oauth:grant-type:apikey) for a bearer token that every
// call of the bot shares. One exchange runs at a time; concurrent callers
// wait for it. A token is exchanged again once 80% of its lifetime
// (expires_in) has passed; if that refresh fails while the old token is
// still valid, the old one is used. A 401 from Watson drops the token, and
// the call is made once more with a new one. Basic: the username and
// password on every call. The version query parameter is on every call.
//
// # Requests
//
// The consumer's text has newline, carriage return and tab removed (F6).
// Rich content and files are sent as their identifier texts (F7, F8) with
// the raw event in lpEvent. v1 puts convId, lpEvent and lpSdes in context
// (§3.2) and echoes Watson's whole context on the next turn: the vendor
// state is {"workspace", "context"} (lpEvent is left out, it is sent afresh
// each turn). v2 puts them in context.skills["main skill"].user_defined
// (§3.3), asks for the context back (return_context) and keeps one Watson
// session per conversation in the vendor state {"assistant", "sessionId",
// "encodedMetadata"}. A 404 on a message (the session expired) creates a
// new session and sends the message once more; if that fails the error is
// aivendor.watsonv2.invalid-session. EndConversation (botrelay.Ender)
// deletes the session.
//
// Welcome (F11, F12): a welcome turn starts a new Watson conversation (v1:
// no stored context and no input; v2: a new session and an empty text), so
// Watson's "welcome" condition fires. lpEvent then has type "ContentEvent",
// content and contentType "welcome" and lastConsumerMessage (messaging), or
// isWelcomeEvent true (chat). Surveys are not supported.
//
// # Replies
//
// output.generic is read; without it, the legacy output.text (array, or
// the JSON-editor form {values, selection_policy}). Per response type:
//   - text: a text; a text holding a JSON object (or a values[] object) is
//     read as the reference product does: {structuredContent, metadata,
//     encodedMetadata} is structured content — quick replies when it has
//     quickReplies and message — and {text, messageAudience, …} a text,
//     private for messageAudience AGENTS_AND_MANAGERS (F21). The values
//     form sends every value with selection_policy "multiline", else the
//     first. Blank texts are skipped.
//   - pause: a delay of time milliseconds; typing defaults to true.
//   - image: structured content: the image (tooltip alt_text or title,
//     caption title), then title (bold) and description as texts.
//   - option and suggestion (disambiguation): in messaging, quick replies
//     with the title and description as their text; in chat, or without a
//     title or description, a structured-content card with one publishText
//     button per choice. A choice publishes value.input.text (else its
//     label).
//   - user_defined: the object as for a JSON text (structured content or
//     text).
//   - search: the header, then each result's title and body as a text.
//   - any other type (connect_to_agent, video, audio, iframe,
//     channel_transfer): aivendor.watson.message-format-not-supported.
//
// encodedMetadata (F22): the context's encodedMetadata (v2: the main
// skill's user_defined.encodedMetadata) applies to every message without
// its own and stays in effect on later turns while the key is absent from
// Watson's context; a new value replaces it, null clears it. Dropped in
// chat conversations.
//
// Actions: v1 top-level actions[], v2 output.actions[]. Items whose type is
// not client (case-insensitive) belong to Watson and are ignored. TRANSFER
// (skill, agentId; agentId alone keeps the current skill),
// CLOSE_CONVERSATION (withoutPcs), CHANGE_TTR (ttrType; value seconds with
// CUSTOM) and INVOCATION (lambdaUuid, payload, failOnError) — the first is
// the Reply's action; unknown names and later actions go to Skipped.
// intents[] (v2: output.intents) become Reply.Intents.
//
// # Errors
//
// Appendix A codes: parser failures are ErrVendorBadReply with
// aivendor.watson.parser.* / message-format-not-supported /
// parse-message.get-parse-message-failed (wrong structure) /
// index.generic-parser-crashed (not JSON), for v1 and v2 alike. Call
// failures: aivendor.watson.send-query (v1) and aivendor.watsonv2.send-query
// (v2) — ErrVendorUnavailable for transport errors, timeouts, 408, 429 and
// 5xx, ErrVendorAuth for 401/403; other 4xx are ErrVendorBadReply
// (aivendor.watson.watson-error for v1). aivendor.watsonv2.create-session
// when a conversation's first session cannot be created. botrelay's own
// codes after the same pattern: aivendor.watson[v2].iam-token for a failed
// token exchange and aivendor.watson[v2].test-connection for the
// connection test. No message quotes the API key, the password or a token.
//
// # Connection test (CheckHealth)
//
// v1: the IAM exchange, then GET {workspaceUrl}/v1/workspaces/{id}?export=false,
// which neither runs the dialog nor counts as a message; when the
// credentials may not read workspace metadata (403), a message call without
// input and context instead. v2: the IAM exchange, then a session is
// created and deleted. Messages say which check failed: "connection test
// (IAM check): IAM token exchange at … failed: …", "connection test (get
// workspace …): …", "connection test: create a session: …".
//
// # Limits and choices
//
// The relay retries ErrVendorUnavailable, so RetriesInternally is false. A
// v2 session created in a turn whose message then fails is not stored
// (there is no Reply) and expires at Watson by itself; a welcome turn's
// new session does not delete the previous one either.
package watson
