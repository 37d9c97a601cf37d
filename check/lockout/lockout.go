package lockout

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// Keep is something a guard keeps allowed: every address of Range, for the
// subject given.
type Keep struct {
	// Range is the addresses kept allowed. The part of an IPv6 range inside
	// ::ffff:0:0/96 is never decided as IPv6 and so not checked; keep the
	// IPv4 addresses instead.
	Range rangeset.Range
	// Admin and Mobile are the subject they are kept allowed for.
	Admin, Mobile bool
}

// ErrOpensAllowlist reports a change that removes the last allow rule of an
// auto allowlist (for some subject), which would silently allow every
// address. Say so explicitly instead: set the default action to allow.
var ErrOpensAllowlist = errors.New("lockout.Guard: the change removes the last allow rule of an auto allowlist, which would allow every address; set defaultAction to allow to mean that")

// Error reports a change that would deny something a guard keeps.
type Error struct {
	// Keep is what would be denied.
	Keep Keep
	// Addr is the first address of Keep.Range that would be denied.
	Addr netip.Addr
	// Decision is how Addr would be decided.
	Decision check.Decision
}

// Error names the address, the subject and the rule (quoted with
// [rangeset.Quote]) or default that would deny it.
func (e *Error) Error() string {
	by := "the default action"
	if e.Decision.Rule != "" {
		by = "rule " + rangeset.Quote(e.Decision.Rule)
	}
	return fmt.Sprintf("lockout.Guard: %s (admin=%v mobile=%v, kept as %s) would be denied by %s",
		e.Addr, e.Keep.Admin, e.Keep.Mobile, e.Keep.Range, by)
}

// Denies returns the first address of k.Range that s denies at t for k's
// subject, with the decision, and reports whether there is one. It is
// exact: it decides one address per piece of the range (see
// [check.Snapshot.Pieces]). An invalid k.Range denies nothing.
func Denies(s *check.Snapshot, k Keep, t time.Time) (netip.Addr, check.Decision, bool) {
	for p := range s.Pieces(k.Range) {
		if d := s.Check(check.Request{Addr: p.From(), Admin: k.Admin, Mobile: k.Mobile, At: t}); !d.Allowed {
			return p.From(), d, true
		}
	}
	return netip.Addr{}, check.Decision{}, false
}

// Guard returns a write guard for stores (their Options.Guard): it
// refuses a new policy that would deny anything keep lists, at the instant
// now returns, with an [*Error], and one that removes the last allow rule
// of an auto allowlist with [ErrOpensAllowlist]. An invalid new policy is
// refused with its compile error. A nil now means time.Now. The guard is
// safe for concurrent use when now is.
func Guard(keep []Keep, now func() time.Time) func(old, new policy.Policy) error {
	if now == nil {
		now = time.Now
	}
	keep = slices.Clone(keep)
	return func(old, new policy.Policy) error {
		t := now()
		s, err := check.Compile(new, t)
		if err != nil {
			return err
		}
		if new.Settings.DefaultAction == policy.DefaultAuto {
			for _, admin := range []bool{false, true} {
				if hasAllow(old, admin) && !hasAllow(new, admin) {
					return ErrOpensAllowlist
				}
			}
		}
		for _, k := range keep {
			if a, d, ok := Denies(s, k, t); ok {
				return &Error{Keep: k, Addr: a, Decision: d}
			}
		}
		return nil
	}
}

// hasAllow reports whether p has an allow rule that applies to the subject.
func hasAllow(p policy.Policy, admin bool) bool {
	return slices.ContainsFunc(p.Rules, func(r policy.Rule) bool {
		return r.Action == policy.Allow && (admin || !r.AdminOnly)
	})
}
