package check

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// MatchStatus says what became of one rule in an [Explanation].
type MatchStatus uint8

// The statuses of a rule whose target contains the address.
const (
	StatusWinner        MatchStatus = iota + 1 // it decided
	StatusBeaten                               // a better rule decided; see Match.By and Match.Why
	StatusExpired                              // it had expired at the instant; see Match.Since
	StatusNotApplicable                        // admin-only, and the subject is not an admin
)

var statusNames = [...]string{StatusWinner: "winner", StatusBeaten: "beaten", StatusExpired: "expired", StatusNotApplicable: "not applicable"}

// String returns "winner", "beaten", "expired" or "not applicable".
func (s MatchStatus) String() string {
	if s != 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "MatchStatus(?)"
}

// Match is one rule whose target contains the address, and what became of it.
type Match struct {
	Rule   policy.Rule
	Status MatchStatus
	// By is the id of the winner that beat the rule, and Why says how:
	// "narrower", "deny at equal size", "smaller id" or, under
	// denyOverrides, "deny overrides allow".
	By, Why string
	// Since is when an expired rule expired.
	Since time.Time
}

// Explanation is a decision with every rule that took part in it.
type Explanation struct {
	Decision Decision
	// At is the instant the request was decided at.
	At time.Time
	// Matches are the rules whose target contains the address, the winner
	// first, then in the order of precedence.
	Matches []Match
}

// Explain decides r as [Snapshot.Check] does and says why: every rule whose
// target contains the address, with its status. A decision that no rule
// took part in (disabled, exempt, invalid) has no matches. It never disagrees with
// Check. Unlike Check, it allocates.
func (s *Snapshot) Explain(r Request) Explanation {
	s = s.orZero()
	r.At = s.instant(r.At)
	e := Explanation{Decision: s.Check(r), At: r.At}
	if r := e.Decision.Reason; r != ReasonRule && r != ReasonDefault {
		return e // disabled, exempt or invalid: no rule took part
	}
	class := 0
	if r.Admin {
		class = 1
	}
	a := rangeset.Canonical(r.Addr)
	var all []*ruleInfo
	for _, lf := range s.table.Supernets(netip.PrefixFrom(a, a.BitLen())) {
		all = append(all, s.nodes.at(lf.node()).rules...)
	}
	deny := s.denyFirst()
	slices.SortFunc(all, func(x, y *ruleInfo) int {
		if better(deny, x, y) {
			return -1
		}
		return 1
	})
	var win *ruleInfo
	for _, ri := range all {
		if ri.live(class, e.At) {
			win = ri
			break
		}
	}
	for _, ri := range all {
		m := Match{Rule: ri.policyRule()}
		switch {
		case class == 0 && ri.adminOnly:
			m.Status = StatusNotApplicable
		case ri.expiredAt(e.At):
			m.Status, m.Since = StatusExpired, ri.exp
		case ri == win:
			m.Status = StatusWinner
		default:
			m.Status, m.By, m.Why = StatusBeaten, win.id, why(deny, win, ri)
		}
		e.Matches = append(e.Matches, m)
	}
	if i := slices.IndexFunc(e.Matches, func(m Match) bool { return m.Status == StatusWinner }); i > 0 {
		w := e.Matches[i]
		copy(e.Matches[1:i+1], e.Matches[:i])
		e.Matches[0] = w
	}
	return e
}

// why says how w beats r.
func why(denyFirst bool, w, r *ruleInfo) string {
	switch {
	case denyFirst && w.allow != r.allow:
		return "deny overrides allow"
	case compareSize(w, r) < 0:
		return "narrower"
	case w.allow != r.allow:
		return "deny at equal size"
	}
	return "smaller id"
}

// String returns the explanation in a few lines, as the command-line tool
// prints it, with rule ids quoted by [rangeset.Quote].
func (e Explanation) String() string {
	var b strings.Builder
	b.WriteString(e.Decision.String())
	b.WriteString(" at " + e.At.Format(time.RFC3339Nano) + "\n")
	for _, m := range e.Matches {
		b.WriteString("  " + rangeset.Quote(m.Rule.ID) + " " + m.Rule.Target.String() + " " + m.Rule.Action.String() + ": " + m.Status.String())
		switch m.Status {
		case StatusBeaten:
			b.WriteString(" by " + rangeset.Quote(m.By) + " (" + m.Why + ")")
		case StatusExpired:
			b.WriteString(" since " + m.Since.Format(time.RFC3339Nano))
		}
		b.WriteString("\n")
	}
	return b.String()
}
