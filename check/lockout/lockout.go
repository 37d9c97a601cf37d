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

// errOpensAllowlist reports a change that removes the last allow rule of an
// auto allowlist (for some subject), which would silently allow every
// address. Say so explicitly instead: set the default action to allow.
var errOpensAllowlist = errors.New("lockout.Guard: the change removes the last allow rule of an auto allowlist, which would allow every address; set defaultAction to allow to mean that")

// Error reports a change that would deny something a guard keeps.
type Error struct {
	// Keep is what would be denied.
	Keep Keep
	// Addr is the first address of Keep.Range that would be denied.
	Addr netip.Addr
	// At is the instant of a later expiry from which Addr would be denied,
	// or the zero time when it would be denied from the write on.
	At time.Time
	// Decision is how Addr would be decided (from At, when set).
	Decision check.Decision
}

// Error names the address, the subject, the instant when later, and the
// rule (quoted with [rangeset.Quote]) or default that would deny it.
func (e *Error) Error() string {
	by := "the default action"
	if e.Decision.Rule != "" {
		by = "rule " + rangeset.Quote(e.Decision.Rule)
	}
	from := ""
	if !e.At.IsZero() {
		from = " from " + e.At.Format(time.RFC3339Nano) + ", as rules expire,"
	}
	return fmt.Sprintf("lockout.Guard: %s (admin=%v mobile=%v, kept as %s) would be denied%s by %s",
		e.Addr, e.Keep.Admin, e.Keep.Mobile, e.Keep.Range, from, by)
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

// Guard returns a write guard for stores (their Options.Guard). It
// refuses, with an [*Error], a new policy that would deny anything keep
// lists at the instant now returns or at any later instant, as its rules
// expire; and, with an error that says so (no *Error, since no kept range
// is denied), one that removes the last allow rule of an auto allowlist,
// even while it disables the policy, which could then be enabled as
// allow-all. An invalid new policy is refused with its compile error. A Keep whose Range is invalid would keep
// nothing: with one, every write is refused. A nil now means time.Now. The
// guard is safe for concurrent use when now is.
func Guard(keep []Keep, now func() time.Time) func(old, new policy.Policy) error {
	if now == nil {
		now = time.Now
	}
	keep = slices.Clone(keep)
	var bad error
	if i := slices.IndexFunc(keep, func(k Keep) bool { return !k.Range.IsValid() }); i >= 0 {
		bad = fmt.Errorf("lockout.Guard: keep[%d] has an invalid Range, which keeps nothing (an IPv4-mapped address? keep the IPv4 address); every write is refused", i)
	}
	return func(old, new policy.Policy) error {
		if bad != nil {
			return bad
		}
		t := now()
		s, err := check.Compile(new, t)
		if err != nil {
			return err
		}
		if new.Settings.DefaultAction == policy.DefaultAuto {
			for _, admin := range []bool{false, true} {
				if hasAllow(old, admin) && !hasAllow(new, admin) {
					return errOpensAllowlist
				}
			}
		}
		for _, k := range keep {
			if a, d, ok := Denies(s, k, t); ok {
				return &Error{Keep: k, Addr: a, Decision: d}
			}
			// Every address kept is allowed at t; a decision changes later
			// only where a rule expires, so only there is it decided again.
			for _, c := range changes(new, k, t) {
				part := k
				part.Range = c.r
				if a, d, ok := Denies(s, part, c.at); ok {
					return &Error{Keep: k, Addr: a, At: c.at, Decision: d}
				}
			}
		}
		return nil
	}
}

// change is where, and from when, decisions may change.
type change struct {
	at time.Time
	r  rangeset.Range
}

// changes returns, in order of their instants, the part of k.Range of
// every rule of p that applies to k's subject and expires after t, with
// its expiry. An earlier change decides an address first, so that the
// first denial found is the earliest.
func changes(p policy.Policy, k Keep, t time.Time) []change {
	var cs []change
	for _, r := range p.Rules {
		e, ok := r.Expiry()
		if !ok || !e.After(t) || r.AdminOnly && !k.Admin || !r.Target.Overlaps(k.Range) {
			continue
		}
		from, to := r.Target.From(), r.Target.To()
		if k.Range.From().Compare(from) > 0 {
			from = k.Range.From()
		}
		if k.Range.To().Compare(to) < 0 {
			to = k.Range.To()
		}
		cs = append(cs, change{e, rangeset.RangeFrom(from, to)})
	}
	slices.SortStableFunc(cs, func(a, b change) int { return a.at.Compare(b.at) })
	return cs
}

// hasAllow reports whether p has an allow rule that applies to the subject.
func hasAllow(p policy.Policy, admin bool) bool {
	return slices.ContainsFunc(p.Rules, func(r policy.Rule) bool {
		return r.Action == policy.Allow && (admin || !r.AdminOnly)
	})
}
