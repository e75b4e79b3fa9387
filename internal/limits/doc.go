// Package limits keeps botrelay's abuse limits: the one login limiter every
// password check goes through (progressive delays per login name, per
// client address and per pair of both, reserved before the hash), the
// bounded pool that password hashes run in, the rate limits of anonymous
// consumers, and the client address of a request (with the trusted-proxy
// setting). docs/security.md ("Limits against floods and guessing") describes the limits for operators.
//
// Everything here is in memory: limits start afresh when the server
// restarts and are not shared between nodes.
package limits
