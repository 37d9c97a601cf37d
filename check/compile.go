package check

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/gaissmai/bart"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// never stands for "no next change": later than every valid expiry. It is
// 10000-01-01T00:00:00Z, one second past 9999-12-31T23:59:59Z, the latest
// expiry package policy lets a rule have (SEMANTICS §3) and the instant
// at which [policy.Rule.Expiry] saturates; TestNeverPastMaxExpiry holds
// the two together.
var never = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)

// Snapshot is a compiled policy: an immutable lookup table that decides
// requests. It is safe for concurrent use by any number of goroutines.
// The zero Snapshot holds no policy and denies every request with the zero
// [Decision]; make one with [Compile]. A nil *Snapshot behaves as the zero
// Snapshot in every method.
//
// Each rule's target is inserted into a bart table as its prefix cover. Each
// inserted prefix carries, for each subject class (admin or not), the
// decision of the winner among the rules live at the compile instant that
// contain the whole prefix. Every rule that contains an address contains
// the longest inserted prefix matching it, so one longest-prefix lookup
// decides. For an instant outside the compiled window, Check walks the
// inserted prefixes that contain the address and re-ranks their rules at
// that instant, so a decision is never stale.
type Snapshot struct {
	// The fields the common request reads come first, in one cache line.
	table table
	// plain says the common request (no admin, no mobile, no instant) is
	// decided by the lookup alone: the policy is enabled and no rule
	// expires. It is false in the zero Snapshot.
	plain bool
	dflt  [2]bool // default outcome per subject class
	// expiring says a request's instant may matter: some rule expires.
	expiring bool
	nodes    nodes     // what the table's leaves index
	at, next time.Time // compile instant; first expiry after it, or never
	settings policy.Settings
	allows   [2]int // allow rules applicable per class: an auto default denies when > 0
	expires  int    // rules that expire, at any instant
	rules    int    // how many rules
	// now reads the clock for a request with a zero instant: the serving
	// Checker's, or nil for time.Now.
	now func() time.Time
	// own holds a compiled small policy's table; table.fast is &own then.
	// Snapshots derived by edits hold bart's persistent copies instead.
	own bart.Fast[leaf]
}

// ruleInfo is a rule with what ranking it needs, kept compact: the target
// as its two ends, and what never changes a decision (timestamps, ttl,
// comment) in a side record that most rules do not need. The fields a
// compile and a re-ranking read come first: a compile visits rules in
// prefix order, not in the order they lie in memory, and prefetches them.
type ruleInfo struct {
	allow     bool
	adminOnly bool
	is4       bool // the target is IPv4: from and to are its mapped form
	// own is scratch of a compile, in what would be padding: one plus the
	// index of the last node the rule alone owns, 0 for none.
	own      uint32
	exp      time.Time    // never when the rule does not expire
	from, to [16]byte     // the target's ends
	id       string       // the rule's id
	self     [1]*ruleInfo // the rule list of the prefixes it alone owns
	seq      uint64       // order of arrival, for Rules
	meta     *ruleMeta
}

// ruleMeta is the part of a rule that never changes a decision; nil when
// all of it is zero.
type ruleMeta struct {
	expiresAt, createdAt, updatedAt time.Time
	ttl                             time.Duration
	hasTTL                          bool
	comment                         string
}

func newRuleInfo(r *policy.Rule, seq uint64) *ruleInfo {
	ri := new(ruleInfo)
	ri.set(r, seq)
	return ri
}

// set fills ri in place from r: a compile writes each record once rather
// than copying it.
func (ri *ruleInfo) set(r *policy.Rule, seq uint64) {
	ri.self[0], ri.id, ri.seq = ri, r.ID, seq
	ri.from, ri.to, ri.is4 = r.Target.From().As16(), r.Target.To().As16(), r.Target.Is4()
	ri.allow, ri.adminOnly = r.Action == policy.Allow, r.AdminOnly
	exp, ok := r.Expiry()
	if !ok {
		exp = never
	}
	ri.exp = exp
	if !r.ExpiresAt.IsZero() || !r.CreatedAt.IsZero() || !r.UpdatedAt.IsZero() || r.TTL != nil || r.Comment != "" {
		m := &ruleMeta{expiresAt: r.ExpiresAt, createdAt: r.CreatedAt, updatedAt: r.UpdatedAt, comment: r.Comment}
		if r.TTL != nil {
			m.ttl, m.hasTTL = *r.TTL, true
		}
		ri.meta = m
	}
}

// target returns the rule's target.
func (ri *ruleInfo) target() rangeset.Range {
	from, to := netip.AddrFrom16(ri.from), netip.AddrFrom16(ri.to)
	if ri.is4 {
		from, to = from.Unmap(), to.Unmap()
	}
	return rangeset.RangeFrom(from, to)
}

// policyRule returns a copy of the rule as it was given.
func (ri *ruleInfo) policyRule() policy.Rule {
	r := policy.Rule{ID: ri.id, Target: ri.target(), Action: policy.Deny, AdminOnly: ri.adminOnly}
	if ri.allow {
		r.Action = policy.Allow
	}
	if m := ri.meta; m != nil {
		r.ExpiresAt, r.CreatedAt, r.UpdatedAt, r.Comment = m.expiresAt, m.createdAt, m.updatedAt, m.comment
		if m.hasTTL {
			ttl := m.ttl
			r.TTL = &ttl
		}
	}
	return r
}

// live reports whether the rule applies to the subject class and is not
// expired at t.
func (ri *ruleInfo) live(class int, t time.Time) bool {
	return (class == 1 || !ri.adminOnly) && !ri.expiredAt(t)
}

// expiredAt reports whether the rule is expired at t: never for a rule
// that does not expire, however late t is (never is only later than every
// expiry, not than every instant).
func (ri *ruleInfo) expiredAt(t time.Time) bool { return ri.exp != never && !t.Before(ri.exp) }

// better reports whether a beats b under the precedence; a nil b loses.
func better(denyFirst bool, a, b *ruleInfo) bool {
	switch {
	case b == nil:
		return true
	case denyFirst && a.allow != b.allow:
		return !a.allow
	}
	if c := compareSize(a, b); c != 0 {
		return c < 0
	}
	if a.allow != b.allow {
		return !a.allow
	}
	return a.id < b.id
}

func (s *Snapshot) denyFirst() bool { return s.settings.DenyOverrides }

// errZeroInstant reports a compile instant that is the zero time.Time,
// which is almost always a forgotten time.Now().
var errZeroInstant = errors.New("check.Compile: zero compile instant: pass time.Now()")

// Compile validates p and compiles it for decisions from instant t0 on. An
// invalid policy does not compile: the error is [policy.Policy.Validate]'s,
// naming every offending rule. The snapshot keeps its own copy of p.
// A large policy is validated, and its table filled, on goroutines beside
// the caller's, which Compile waits for.
//
// Time and memory grow with the CIDR prefixes the rules' targets cover:
// one for an address or a prefix, but up to 62 for an IPv4 from-to range
// and 254 for an IPv6 one, so that a document of wide IPv6 ranges costs
// hundreds of times its size. Bound the rules of a policy taken from
// clients, as the example servers do.
func Compile(p policy.Policy, t0 time.Time) (*Snapshot, error) {
	s, _, err := compile(p, t0, false)
	return s, err
}

// compile is Compile, also returning the rules in the policy's order. With
// large set, the table is a bart.Table whatever its size (tests use it).
func compile(p policy.Policy, t0 time.Time, large bool) (*Snapshot, []ruleInfo, error) {
	if t0.IsZero() {
		return nil, nil, errZeroInstant
	}
	if uint64(len(p.Rules)) > math.MaxUint32 {
		return nil, nil, fmt.Errorf("check.Compile: %d rules: at most %d", len(p.Rules), uint32(math.MaxUint32))
	}
	// A large policy is validated while its records are prepared, which
	// is safe on any input; nothing is built from them before it passes.
	validated := validate(p, len(p.Rules) > fastMax)
	s := &Snapshot{at: t0, next: never, settings: p.Settings, rules: len(p.Rules)}
	infos := make([]ruleInfo, len(p.Rules)) // one allocation for every rule
	n := 0
	for i := range p.Rules {
		ri := &infos[i]
		ri.set(&p.Rules[i], uint64(i))
		s.count(ri, +1)
		n += ri.coverLen()
	}
	all := make([]entry, 0, n)
	for i := range infos {
		all = infos[i].appendCover(all, uint32(i))
	}
	s.setDefaults()
	if len(all) <= fastMax && !large {
		s.table = table{fast: new(bart.Fast[leaf])}
	} else {
		s.table = table{large: new(bart.Table[leaf])}
	}
	s.nodes.reserve(len(all))
	deny := s.denyFirst()
	sortEntries(all, func(a, b uint32) bool { return better(deny, &infos[a], &infos[b]) })
	if err := validated(); err != nil {
		return nil, nil, fmt.Errorf("check.Compile: %w", err)
	}
	ins := s.table.inserter(len(all))
	// Walk the prefixes in address order with a stack of the inserted
	// prefixes that contain the current one: its top holds the winners
	// inherited from outside.
	type frame struct {
		pfx netip.Prefix
		win [2]*ruleInfo
	}
	var stack []frame
	// A prefix that one rule owns alone uses that rule's own one-element
	// list; edits never write to it, they make new ones.
	ahead := 0 // the entries before it have had their records prefetched
	for lo := 0; lo < len(all); {
		if lo >= ahead {
			ahead = min(lo+prefetchAhead, len(all))
			prefetch(infos, all[lo:ahead])
		}
		hi := lo
		for hi < len(all) && all[hi].compare(all[lo]) == 0 {
			hi++
		}
		pfx := all[lo].prefix()
		for len(stack) > 0 && !contains(stack[len(stack)-1].pfx, pfx) {
			stack = stack[:len(stack)-1]
		}
		var inherited [2]*ruleInfo
		if len(stack) > 0 {
			inherited = stack[len(stack)-1].win
		}
		i := all[lo].rule
		only := &infos[i]
		rules := only.self[:]
		if hi-lo > 1 {
			rules = make([]*ruleInfo, hi-lo)
			for j := range rules {
				rules[j] = &infos[all[lo+j].rule]
			}
		}
		win := s.winners(rules, inherited)
		// The prefixes of one rule's cover that it alone owns mostly share
		// their winners too: they share one node.
		var lf leaf
		if own := only.own; len(rules) == 1 && own > 0 && s.nodes.at(own-1).win == win {
			lf = leafOf(s.nodes.at(own-1), own-1)
		} else {
			if s.nodes.n == maxNodes {
				ins.wait()
				return nil, nil, fmt.Errorf("check.Compile: more than %d distinct prefixes", maxNodes)
			}
			lf = s.nodes.add(node{rules: rules, win: win})
			if len(rules) == 1 {
				only.own = lf.node() + 1
			}
		}
		ins.insert(pfx, lf)
		stack = append(stack, frame{pfx, win})
		lo = hi
	}
	s.table = ins.wait()
	// A small table is copied into the snapshot itself, so that a request
	// reaches its root without loading a pointer.
	if s.table.fast != nil {
		s.own.Union(s.table.fast)
		s.table.fast = &s.own
	}
	return s, infos, nil
}

// validate starts p.Validate, in a goroutine of its own when concurrently
// is set, and returns a function that waits for its result.
func validate(p policy.Policy, concurrently bool) func() error {
	if !concurrently {
		err := p.Validate()
		return func() error { return err }
	}
	done := make(chan error, 1)
	go func() { done <- p.Validate() }()
	return func() error { return <-done }
}

// prefetchAhead is how many entries' records a compile prefetches at a
// time: enough loads to overlap, few enough that their lines stay in the
// first-level cache until the walk reaches them.
const prefetchAhead = 16

// prefetch loads each record that es names, in a loop of independent
// loads that the processor overlaps, so that the walk finds the records in
// the cache. The walk visits rules in prefix order, not in the order they
// lie in memory, and would otherwise wait for each in turn.
func prefetch(infos []ruleInfo, es []entry) {
	var sum uint32
	for _, e := range es {
		// A record's fields up to its id span at most three cache lines,
		// and these three words lie one in each.
		r := &infos[e.rule]
		sum += r.own + uint32(r.to[15]) + uint32(len(r.id))
	}
	runtime.KeepAlive(sum) // the loads are the point: keep them
}

// count adds (d = +1) or removes (d = -1) r's share of the snapshot's
// counters: rules, allow rules per class, and the next change.
func (s *Snapshot) count(r *ruleInfo, d int) {
	if r.exp != never {
		s.expires += d
	}
	if r.allow {
		s.allows[1] += d
		if !r.adminOnly {
			s.allows[0] += d
		}
	}
	if d > 0 && r.exp.After(s.at) && r.exp.Before(s.next) {
		s.next = r.exp
	}
}

// setDefaults sets what follows from the settings and the counters: the
// default outcome per class and the flags of the request path.
func (s *Snapshot) setDefaults() {
	s.expiring = s.expires > 0
	s.plain = s.settings.Enabled && !s.expiring
	for c := range s.dflt {
		switch s.settings.DefaultAction {
		case policy.DefaultAllow:
			s.dflt[c] = true
		case policy.DefaultDeny:
			s.dflt[c] = false
		default:
			s.dflt[c] = s.allows[c] == 0
		}
	}
}

// winners returns the winners of a prefix with the given rules (best
// first) that inherits the winners of the nearest inserted prefix
// containing it.
func (s *Snapshot) winners(rules []*ruleInfo, inherited [2]*ruleInfo) [2]*ruleInfo {
	win := inherited
	for c := range win {
		// The rules are sorted best first: the first live one is the best.
		for _, r := range rules {
			if r.live(c, s.at) {
				if better(s.denyFirst(), r, win[c]) {
					win[c] = r
				}
				break
			}
		}
	}
	return win
}

// entry is one prefix of one rule's cover, as compile sorts them: IPv4
// before IPv6, then by address, then shorter first, so that a prefix comes
// before those it contains, and the rules of one prefix are adjacent. It
// compares faster than netip's own types and holds no pointer, so that the
// garbage collector need not scan the slice a compile sorts.
type entry struct {
	hi, lo uint64 // the address, 16 bytes big-endian
	fb     uint16 // family (IPv6: 1<<8) and prefix length
	rule   uint32 // the rule's index in the policy
}

func (e entry) prefix() netip.Prefix {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], e.hi)
	binary.BigEndian.PutUint64(a[8:], e.lo)
	addr := netip.AddrFrom16(a)
	if e.fb>>8 == 0 {
		addr = addr.Unmap()
	}
	return netip.PrefixFrom(addr, int(e.fb&0xff))
}

// compare orders e and o by their prefixes alone.
func (e entry) compare(o entry) int {
	if e.fb>>8 != o.fb>>8 {
		return cmp.Compare(e.fb>>8, o.fb>>8)
	}
	if e.hi != o.hi {
		return cmp.Compare(e.hi, o.hi)
	}
	if e.lo != o.lo {
		return cmp.Compare(e.lo, o.lo)
	}
	return cmp.Compare(e.fb, o.fb)
}

// contains reports whether prefix o lies within prefix p.
func contains(p, o netip.Prefix) bool {
	return p.Bits() <= o.Bits() && p.Contains(o.Addr())
}

// Check decides r as SEMANTICS §4 says, at the instant r.At; a zero r.At
// means now, and the clock is read for it only when some rule of the
// policy expires: time.Now for a snapshot from [Compile], the checker's
// clock for one that a [Checker] serves. Requests at instants from
// [Snapshot.At] up to the first expiry after it are answered by one
// lookup; any other instant, earlier or later, is answered exactly too,
// by re-ranking the rules that contain the address at that instant. No
// expired rule ever decides.
//
// Check does not allocate and takes no lock.
func (s *Snapshot) Check(r Request) Decision {
	return s.check(r.Addr, r.Admin, r.Mobile, r.At)
}

// check is Check on r's fields. A Request is too large for the compiler to
// keep in registers, so Check, which inlines, hands the fields on one by
// one and the common request never goes through memory.
func (s *Snapshot) check(a netip.Addr, admin, mobile bool, at time.Time) Decision {
	if s == nil || !s.plain || admin || mobile || !at.IsZero() || !a.IsValid() {
		return s.checkRare(Request{Addr: a, Admin: admin, Mobile: mobile, At: at})
	}
	// The table's dispatch is written out: through table.Lookup it would be
	// one more call on the hot path. bart ignores a zone; Addr.WithZone would
	// cost a call.
	var lf leaf
	var ok bool
	switch a = a.Unmap(); s.table.fast {
	case &s.own:
		// The root's address follows from s: the lookup does not wait for
		// the load that the comparison needs.
		lf, ok = s.own.Lookup(a)
	case nil:
		lf, ok = s.table.large.Lookup(a)
	default:
		lf, ok = s.table.fast.Lookup(a)
	}
	if !ok || lf.id == nil {
		return Decision{Allowed: s.dflt[0], Reason: ReasonDefault}
	}
	return Decision{Allowed: lf.allow(), Rule: lf.winner(), Reason: ReasonRule}
}

// checkRare is Check for every request that is not decided by the lookup
// alone: a disabled policy, a mobile or admin subject, an instant, a
// policy with expiring rules, an invalid address, the zero Snapshot.
func (s *Snapshot) checkRare(r Request) Decision {
	switch {
	case s == nil || s.table == (table{}):
		return Decision{}
	case !s.settings.Enabled:
		return Decision{Allowed: true, Reason: ReasonDisabled}
	case r.Mobile && !s.settings.ApplyToMobile:
		return Decision{Allowed: true, Reason: ReasonExempt}
	case !r.Addr.IsValid():
		return Decision{Reason: ReasonInvalid}
	}
	class := 0
	if r.Admin {
		class = 1
	}
	a := r.Addr.Unmap()
	if at := s.instant(r.At); at.Before(s.at) || !at.Before(s.next) {
		return s.checkAt(a, class, at)
	}
	lf, ok := s.table.Lookup(a)
	if ok && class == 1 && lf.split() {
		if w := s.nodes.at(lf.node()).win[1]; w != nil {
			return Decision{Allowed: w.allow, Rule: w.id, Reason: ReasonRule}
		}
		ok = false
	}
	if !ok || lf.id == nil {
		return Decision{Allowed: s.dflt[class], Reason: ReasonDefault}
	}
	return Decision{Allowed: lf.allow(), Rule: lf.winner(), Reason: ReasonRule}
}

// instant returns the instant a request at t is decided at: t, or for a
// zero t the clock's reading when a rule expires and, when none does, the
// snapshot's instant, at which every instant from it on decides alike.
func (s *Snapshot) instant(t time.Time) time.Time {
	switch {
	case !t.IsZero():
		return t
	case !s.expiring:
		return s.at
	case s.now != nil:
		if now := s.now(); !now.IsZero() {
			return now
		}
	}
	// A clock that reads the zero instant would revive every expired rule.
	return time.Now()
}

// checkAt decides for an instant outside the compiled window: the best
// rule live at t among the rules of every inserted prefix containing a.
func (s *Snapshot) checkAt(a netip.Addr, class int, t time.Time) Decision {
	var best *ruleInfo
	s.table.eachSupernet(netip.PrefixFrom(a, a.BitLen()), func(lf leaf) bool {
		for _, r := range s.nodes.at(lf.node()).rules {
			if r.live(class, t) {
				if better(s.denyFirst(), r, best) {
					best = r
				}
				break // the rules are sorted best first
			}
		}
		return true
	})
	if best == nil {
		return Decision{Allowed: s.dflt[class], Reason: ReasonDefault}
	}
	return Decision{Allowed: best.allow, Rule: best.id, Reason: ReasonRule}
}

// orZero returns s, or the zero Snapshot for a nil s.
func (s *Snapshot) orZero() *Snapshot {
	if s == nil {
		return &Snapshot{}
	}
	return s
}

// At returns the instant the snapshot was compiled for.
func (s *Snapshot) At() time.Time { return s.orZero().at }

// nextChange returns the first instant after [Snapshot.At] at which a rule
// expires, and so a decision may change, and reports whether there is one.
func (s *Snapshot) nextChange() (time.Time, bool) {
	return s.next, s.next != never
}

// Settings returns the settings the snapshot decides with.
func (s *Snapshot) Settings() policy.Settings { return s.orZero().settings }

// Len returns the number of rules.
func (s *Snapshot) Len() int { return s.orZero().rules }

// Rules returns copies of the snapshot's rules: those of the compiled
// policy in its order, then those that edits of a [Checker] added or
// changed since, in the order they came.
func (s *Snapshot) Rules() iter.Seq[policy.Rule] {
	s = s.orZero()
	return func(yield func(policy.Rule) bool) {
		if s.rules == 0 {
			return // and the zero Snapshot has no table to walk
		}
		seen := make(map[*ruleInfo]bool, s.rules)
		infos := make([]*ruleInfo, 0, s.rules)
		for _, lf := range s.table.All() {
			for _, r := range s.nodes.at(lf.node()).rules {
				if !seen[r] {
					seen[r] = true
					infos = append(infos, r)
				}
			}
		}
		slices.SortFunc(infos, func(a, b *ruleInfo) int { return cmp.Compare(a.seq, b.seq) })
		for _, r := range infos {
			if !yield(r.policyRule()) {
				return
			}
		}
	}
}
