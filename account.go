package botrelay

import (
	"regexp"
	"strings"
	"time"
)

// AccountID identifies a contact-center tenant, as a LivePerson account (site)
// id does. The hub serves one account; its id is set with --account.
type AccountID string

// DefaultAccountID is the account id used when none is configured.
const DefaultAccountID AccountID = "1000"

var accountIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// Validate reports an EINVALID error when id is not a usable account id:
// 1 to 64 letters, digits, '_' or '-', starting with a letter or digit.
// Account ids appear in URL paths and participant ids, so nothing else is allowed.
func (id AccountID) Validate() error {
	if !accountIDPattern.MatchString(string(id)) {
		return Errorf(EINVALID, "account id %q must be 1 to 64 letters, digits, '_' or '-'", string(id))
	}
	return nil
}

// Account is one contact-center tenant. Every user, skill, profile and bot
// belongs to exactly one account.
type Account struct {
	ID        AccountID
	Name      string
	CreatedAt time.Time
}

// trimmed returns s without surrounding white space; used by the Validate
// methods, which normalise as they check.
func trimmed(s string) string { return strings.TrimSpace(s) }
