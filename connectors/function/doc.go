// Package function is the "function" vendor: bots written as JavaScript
// functions and run in-process in a goja sandbox. It is botrelay's
// equivalent of a LivePerson Functions "Third-Party Bots Custom Integration"
// (spec third-party-bots.md §3.8), so a bot function written for the
// reference product runs unchanged:
//
//	function lambda(input, callback) {
//	  const { message, convId, event, context } = input.payload;
//	  callback(null, { messages: ["You said " + message] });
//	}
//
// # Settings
//
//	{"code": "<javascript source>",   // required; compiled by NewBot
//	 "timeoutMs": 30000,              // per call, 1..60000, default 30000
//	 "memoryLimitMB": 64,             // per call, 8..1024, default 64
//	 "env": {"KEY": "value"}}         // optional, exposed as process.env
//
// LivePerson Functions offers environment variables through process.env,
// so that is where "env" appears; process has no other member.
//
// # Script shape
//
// The script defines the function to call in one of three ways, looked up
// in this order after the script's top level ran: a global function named
// lambda (the reference product's shape), module.exports when it is a
// function, or module.exports.lambda / exports.lambda. The function is
// called as lambda(input, callback) and may be async; it answers with
// callback(err, result). The call ends when the callback is first called:
// the result (and the session, below) are taken at that moment and no more
// of the script runs, so later calls of the callback are ignored.
//
// # Request (input)
//
// input is {"headers": [], "payload": {...}} with payload as in §3.8:
// message (the consumer text, or the rich-content / file identifier of
// F7/F8), convId, event ({"name":"WELCOME"} on the welcome turn,
// {"name":"SURVEY"} when a survey starts — a botrelay extension) and
// context {lpEvent, lpSdes, session}. lpEvent is the relay's event with
// gaps filled so the documented fields are always there: a welcome turn
// gets type "ContentEvent", content and contentType "welcome" and
// lastConsumerMessage (messaging) or isWelcomeEvent true (chat); a rich
// content turn gets event {type:"RichContentEvent", content}; a file turn
// gets event {type:"ContentEvent", contentType:"hosted/file", message:{...}};
// the consumer message's metadata lands in lpEvent.metadata. lpSdes is {}
// when engagement attributes are off.
//
// # Vendor state (F46)
//
// The reference product gives functions no conversation state, so this is
// a botrelay extension: input.payload.context.session is a JSON object ({}
// on the first turn) that the function may change in place, or replace by
// returning context.session in its result (null clears it). Its JSON at the
// time of the callback is the Reply's VendorState and comes back on the
// conversation's next turn. It must stay an object of at most 64 KiB.
//
// # Reply (callback result)
//
// Translated per §3.8 and F17–F25: strings in messages are texts (blank ones
// skipped); objects are structured content ({structuredContent, metadata,
// encodedMetadata}; a structuredContent with quickReplies and message is a
// text with quick replies), delays ({delay, typing}, typing defaults to
// true) or texts ({text, messageAudience}, "AGENTS_AND_MANAGERS" makes a
// private note). context.encodedMetadata applies to every message of the
// reply that has none of its own. context.structuredContent is the legacy
// single structured content, sent after messages[] with context.metadata;
// without it, context.metadata applies to every message that has no metadata
// of its own. metadata objects are normalised to one-element arrays.
// context.action (TRANSFER, CLOSE_CONVERSATION, CHANGE_TTR, INVOCATION) with
// context.actionParameters is the action; unknown names are listed in
// Reply.Skipped. An array of action names (with actionParameters an array
// of the same length, or one object for the first) is accepted too: the
// first known action is carried out, the others are listed in Skipped.
// context.intentId / intentName / confidenceScore become Reply.Intents.
//
// # Errors
//
// Codes are the reference product's (Appendix A, without the prefix):
//   - aivendor.faas.invoke-lambda, ErrVendorUnavailable: the call ran out of
//     time (min of the context deadline and timeoutMs), hit the memory guard,
//     or its context was cancelled.
//   - aivendor.faas.invoke-lambda, ErrVendorBadReply: the script threw, its
//     top level failed, it called callback(err), it defines no lambda, or
//     its result or session broke the contract above.
//   - aivendor.faas.missing-response-body, ErrVendorBadReply: the function
//     finished without calling the callback, or called it without a result.
//
// # Sandbox
//
// Each call runs in a fresh goja runtime (the compiled program is shared),
// so nothing leaks between calls or conversations. There is no require, no
// file system, no network and no Node.js API besides console (captured to
// the bot's logger at debug level, bot_id and conversation_id attached, at
// most 100 lines of 4 KiB per call), process.env and timers: setTimeout,
// setInterval, setImmediate and their clear functions run on a virtual
// clock inside the call (after the function and its promise jobs, timers
// fire in due order without real waiting) and never outlive it. Date uses
// the bot's clock. The JavaScript call stack is limited to 10000 frames.
//
// The time limit is enforced with goja's Interrupt, which takes effect
// between JavaScript instructions; a single built-in call cannot be
// interrupted, which is why the built-ins that can loop over or allocate a
// size given by the script are bounded (below).
//
// Memory: goja has no allocation accounting, so the guard is two-fold.
//  1. A watchdog samples the Go heap (runtime/metrics) every 2 ms while calls
//     run. A call's start level is the live heap the last garbage collection
//     before the call found. When the heap (garbage included) exceeds a
//     call's start level by more than memoryLimitMB, the watchdog forces a
//     collection (at most one per 50 ms) and, if the live heap still exceeds
//     it, interrupts the call. The measure is process-wide: the growth of
//     anything else running at the same time counts against every running
//     call. While n calls run together each call's allowance is therefore
//     memoryLimitMB × n (their growth is one sum), so that a burst of
//     well-behaved calls, as when hundreds of conversations resume at once,
//     does not stop itself. Under load a call can still be stopped for a
//     neighbour's growth, which is why the error is classified
//     ErrVendorUnavailable (the relay retries it). What is guaranteed: a
//     script that grows memory through JavaScript code is stopped within
//     about one sampling period plus one collection after the live heap
//     crossed its start level plus its allowance;
//     the start level being the last collection's, data freed since then
//     loosens the limit by that amount and data allocated since tightens it.
//  2. Built-ins that allocate or loop in one native step over a size the
//     script chooses throw a RangeError when that size exceeds the limit:
//     String repeat/padStart/padEnd (result length), Array.prototype methods
//     that walk the array (more than one element per 16 bytes of the limit;
//     join also bounds length × separator), Array.from, Function.prototype.apply,
//     Reflect.apply/construct (argument count), ArrayBuffer, typed array
//     constructors and their from (bytes / elements). The wrappers are Go
//     functions installed in every runtime (guard.go).
//
// Not covered: one native call building an unbounded structure from a small
// input, such as JSON.stringify of a deeply shared object graph or spreading
// a huge sparse array; such a call can exhaust the process's memory before
// the watchdog can act. The guard is protection against runaway bot code,
// not a security boundary against a hostile author: only users allowed to
// edit bots set the code.
package function
