package check

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// Keep is something a lockout guard keeps allowed: every address of Range,
// for the subject given (the admin's current address, a break-glass
// network).
type Keep struct {
	Range         rangeset.Range
	Admin, Mobile bool
}

// ErrOpensAllowlist reports a change that removes the last allow rule of an
// auto allowlist (for some subject), which would silently allow every
// address. Say so explicitly instead: set the default action to allow.
var ErrOpensAllowlist = errors.New("check: the change removes the last allow rule of an auto allowlist, which would allow every address; set defaultAction to allow to mean that")

// LockoutError reports a change that would deny something a guard keeps.
type LockoutError struct {
	Keep     Keep
	Addr     netip.Addr // the first address of Keep.Range that would be denied
	Decision Decision   // how it would be decided
}

// Error names the address, the subject and the rule that would deny it.
func (e *LockoutError) Error() string {
	by := "the default action"
	if e.Decision.Rule != "" {
		by = "rule " + e.Decision.Rule
	}
	return fmt.Sprintf("check: lockout: %s (admin=%v mobile=%v, kept as %s) would be denied by %s", e.Addr, e.Keep.Admin, e.Keep.Mobile, e.Keep.Range, by)
}

// Denies returns the first address of k.Range that the snapshot denies
// at t for k's subject, with the decision, and reports whether there is
// one. It cuts the range at the ends of the snapshot's prefixes, between
// which decisions are constant, so it is exact and needs no sampling.
func (s *Snapshot) Denies(k Keep, t time.Time) (netip.Addr, Decision, bool) {
	if !k.Range.IsValid() {
		return netip.Addr{}, Decision{}, false
	}
	for _, a := range cutsIn(k.Range, s) {
		if a.Is4In6() {
			continue // no query is decided as this IPv6 address
		}
		if d := s.Check(Request{Addr: a, Admin: k.Admin, Mobile: k.Mobile, At: t}); !d.Allowed {
			return a, d, true
		}
	}
	return netip.Addr{}, Decision{}, false
}

// Guard returns a check for policy changes, for stores (see
// store.DocEditor.Guard): it refuses a new policy that would deny anything
// keep lists, at the instant now returns, with a [*LockoutError], and one
// that removes the last allow rule of an auto allowlist with
// [ErrOpensAllowlist]. A nil now means time.Now.
func Guard(keep []Keep, now func() time.Time) func(old, new policy.Policy) error {
	if now == nil {
		now = time.Now
	}
	keep = slices.Clone(keep)
	return func(old, new policy.Policy) error {
		if new.Settings.DefaultAction == policy.DefaultAuto {
			for _, admin := range []bool{false, true} {
				if hasAllow(old, admin) && !hasAllow(new, admin) {
					return ErrOpensAllowlist
				}
			}
		}
		t := now()
		s, err := Compile(new, t)
		if err != nil {
			return err
		}
		for _, k := range keep {
			if a, d, ok := s.Denies(k, t); ok {
				return &LockoutError{Keep: k, Addr: a, Decision: d}
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
