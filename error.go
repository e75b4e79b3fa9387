package botrelay

import (
	"errors"
	"fmt"
)

// Application error codes. They are stable strings: the HTTP layer maps each
// to one status, API clients see them in {"error":{"code":...}}, and tests
// compare them. Any error that is not an *Error is reported as EINTERNAL and
// its text is never shown to a client.
const (
	ECONFLICT       = "conflict"      // a unique value is taken, or the state forbids the change (409)
	EINTERNAL       = "internal"      // a bug or an infrastructure failure (500)
	EINVALID        = "invalid"       // the input is malformed or breaks a rule (400)
	ENOTFOUND       = "not_found"     // the thing does not exist (404)
	EUNAUTHORIZED   = "unauthorized"  // no or bad credentials (401)
	EFORBIDDEN      = "forbidden"     // credentials fine, permission missing (403)
	EUNAVAILABLE    = "unavailable"   // a dependency is down; try again later (503)
	ERATELIMITED    = "rate_limited"  // too many attempts (429)
	ENOTIMPLEMENTED = "not_supported" // the operation is not supported by this part (501)
)

// Error is an application error: a machine-readable Code and a Message that is
// safe to show to the user who caused it. Message never carries driver text,
// secrets or stack details.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is reports whether target is an *Error with the same Code and either the
// same Message or an empty one, so errors.Is(err, ErrNotFound) matches every
// not-found error whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Sentinels for errors.Is. They carry no message; match on the code.
var (
	ErrNotFound     = &Error{Code: ENOTFOUND}
	ErrConflict     = &Error{Code: ECONFLICT}
	ErrInvalid      = &Error{Code: EINVALID}
	ErrUnauthorized = &Error{Code: EUNAUTHORIZED}
	ErrForbidden    = &Error{Code: EFORBIDDEN}
)

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of the first *Error in err's
// chain, or a generic text for any other error so internal details never
// reach a client.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
