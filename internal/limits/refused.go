package limits

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/botrelay/botrelay"
)

// Refused is the error of a request a limit turned away before doing the
// work: Err is a *botrelay.Error with code botrelay.ERATELIMITED (429) or
// botrelay.EUNAVAILABLE (503), and RetryAfter says when trying again can
// succeed.
type Refused struct {
	Err        *botrelay.Error
	RetryAfter time.Duration
}

// Error returns the message of Err.
func (r *Refused) Error() string { return r.Err.Error() }

// Unwrap returns Err, so botrelay.ErrorCode and ErrorMessage see its code
// and message.
func (r *Refused) Unwrap() error { return r.Err }

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1:
// the value of the Retry-After header.
func (r *Refused) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(r.RetryAfter.Seconds())))
}

// SetRetryAfter sets the Retry-After header when err is (or wraps) a
// *Refused, and reports whether it did.
func SetRetryAfter(h http.Header, err error) bool {
	var r *Refused
	if !errors.As(err, &r) {
		return false
	}
	h.Set("Retry-After", strconv.Itoa(r.RetryAfterSeconds()))
	return true
}

// refuse returns a *Refused with code and a message that ends with when to
// try again.
func refuse(code, what string, wait time.Duration) *Refused {
	r := &Refused{RetryAfter: wait}
	r.Err = botrelay.Errorf(code, "%s; try again in %d s", what, r.RetryAfterSeconds())
	return r
}
