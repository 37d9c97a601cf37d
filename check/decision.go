package check

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/ipgate/ipgate/rangeset"
)

// Request is what a decision is asked about: a client address, who the
// client is, and the instant of the request.
type Request struct {
	// Addr is the client address. An IPv4-mapped IPv6 address is decided as
	// its IPv4 address and a zone is dropped (SEMANTICS §1); the zero Addr is
	// invalid.
	Addr netip.Addr
	// Admin says the subject is an administrator: admin-only rules apply.
	Admin bool
	// Mobile says the request comes from a mobile client.
	Mobile bool
	// At is the instant the request is decided at. The zero At means now
	// (see [Snapshot.Check]).
	At time.Time
}

// Reason says why a decision came out as it did. The zero Reason is invalid.
type Reason uint8

// The reasons, in the order SEMANTICS §4 tries them.
const (
	ReasonDisabled Reason = iota + 1 // the policy is disabled: allowed
	ReasonExempt                     // a mobile subject and the policy does not apply to mobile: allowed
	ReasonInvalid                    // the address is invalid: denied
	ReasonRule                       // a rule matched: its action
	ReasonDefault                    // no live rule matched: the default action
)

var reasonNames = [...]string{ReasonDisabled: "disabled", ReasonExempt: "exempt", ReasonInvalid: "invalid", ReasonRule: "rule", ReasonDefault: "default"}

// String returns the reason as SEMANTICS names it ("rule", "default",
// "disabled", "exempt", "invalid"), or "Reason(N)" for an invalid value.
func (r Reason) String() string {
	if r != 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// MarshalText implements [encoding.TextMarshaler] with [Reason.String].
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Decision is the outcome of a request. The zero Decision denies.
type Decision struct {
	// Allowed says whether the request may pass.
	Allowed bool
	// Rule is the id of the winning rule, "" when no rule decided.
	Rule string
	// Reason says why.
	Reason Reason
}

// String returns "allow" or "deny", followed by the reason and the rule
// quoted with [rangeset.Quote], e.g. `deny (rule "guest-net")` or
// "allow (default)".
func (d Decision) String() string {
	s := "deny"
	if d.Allowed {
		s = "allow"
	}
	if d.Rule != "" {
		return s + " (" + d.Reason.String() + " " + rangeset.Quote(d.Rule) + ")"
	}
	return s + " (" + d.Reason.String() + ")"
}
