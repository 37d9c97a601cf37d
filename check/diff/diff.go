package diff

import (
	"slices"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/rangeset"
)

// Change is a range of addresses whose decision differs, for one subject,
// with the decision before (Old) and after (New).
type Change struct {
	// Range is the addresses, merged as far as the pair of decisions is the
	// same.
	Range rangeset.Range
	// Admin and Mobile are the subject.
	Admin, Mobile bool
	// Old and New are the decisions compared; they always differ.
	Old, New check.Decision
}

// Snapshots returns every range of addresses whose decision differs
// between old and new at the instant at, for each subject (admin or not,
// mobile or not), with both decisions. Decisions that differ only in the
// rule that made them count as changes too. The changes come by family
// (IPv4 first), then by subject (non-admin first, non-mobile first), then
// in address order; adjacent ranges with the same pair of decisions are
// merged. No range lies in ::ffff:0:0/96, whose addresses are decided as
// IPv4. Both snapshots must be non-nil.
func Snapshots(old, new *check.Snapshot, at time.Time) []Change {
	return changes(old, at, new, at)
}

// Expiring returns every range of addresses whose decision under s
// differs between the instants from and to, as [Snapshots] does for two
// snapshots: what the expiries of s's rules change in that time.
func Expiring(s *check.Snapshot, from, to time.Time) []Change {
	return changes(s, from, s, to)
}

func changes(a *check.Snapshot, ta time.Time, b *check.Snapshot, tb time.Time) []Change {
	var out []Change
	for _, is4 := range []bool{true, false} {
		pieces := refine(rangeset.Family(is4), a, b)
		for _, admin := range []bool{false, true} {
			for _, mobile := range []bool{false, true} {
				open := -1 // the change the previous piece made or extended, if any
				for _, p := range pieces {
					da := a.Check(check.Request{Addr: p.From(), Admin: admin, Mobile: mobile, At: ta})
					db := b.Check(check.Request{Addr: p.From(), Admin: admin, Mobile: mobile, At: tb})
					switch {
					case da == db:
						open = -1
					case open >= 0 && out[open].Old == da && out[open].New == db && out[open].Range.To().Next() == p.From():
						out[open].Range = rangeset.RangeFrom(out[open].Range.From(), p.To())
					default:
						out = append(out, Change{Range: p, Admin: admin, Mobile: mobile, Old: da, New: db})
						open = len(out) - 1
					}
				}
			}
		}
	}
	return out
}

// refine returns the common refinement of the pieces of r under a and b:
// on each range it returns, both snapshots decide alike throughout.
func refine(r rangeset.Range, a, b *check.Snapshot) []rangeset.Range {
	pa := slices.Collect(a.Pieces(r))
	if a == b {
		return pa
	}
	pb := slices.Collect(b.Pieces(r))
	// Both cover the same addresses (r less the mapped block), so walking
	// them side by side intersects every overlapping pair.
	out := make([]rangeset.Range, 0, max(len(pa), len(pb)))
	for i, j := 0, 0; i < len(pa) && j < len(pb); {
		x, y := pa[i], pb[j]
		from, to := x.From(), x.To()
		if y.From().Compare(from) > 0 {
			from = y.From()
		}
		if c := y.To().Compare(to); c <= 0 {
			to = y.To()
			j++
			if c == 0 {
				i++
			}
		} else {
			i++
		}
		if from.Compare(to) <= 0 {
			out = append(out, rangeset.RangeFrom(from, to))
		}
	}
	return out
}
