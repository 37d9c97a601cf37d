package check

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// TestCover checks the cover computed on a record's ends against
// rangeset.Range.Prefixes, and compareSize against rangeset.Size.Compare,
// on random ranges of both families and on the edges of the address space.
func TestCover(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	addr := func(is4 bool) netip.Addr {
		if is4 {
			return netip.AddrFrom4([4]byte{byte(rng.IntN(4) * 64), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		}
		var b [16]byte
		for i := range b {
			if rng.IntN(3) > 0 {
				b[i] = byte(rng.IntN(256))
			}
		}
		return netip.AddrFrom16(b)
	}
	targets := []string{"0.0.0.0-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0", "255.255.255.255",
		"::", "::1-::fffe", "10.0.0.1-10.0.0.254", "::ffff:0:0-::ffff:ffff:ffff", "1.2.3.4/32", "2001:db8::/32"}
	for range 3000 {
		is4 := rng.IntN(2) == 0
		from, to := addr(is4), addr(is4)
		if to.Less(from) {
			from, to = to, from
		}
		targets = append(targets, rangeset.RangeFrom(from, to).String())
	}
	var last [2]*ruleInfo // the last record of each family
	for _, s := range targets {
		r, err := rangeset.ParseRange(s)
		if err != nil {
			continue // the mapped block is refused as a target
		}
		ri := new(ruleInfo)
		ri.set(&policy.Rule{ID: "r", Target: r, Action: policy.Allow}, 0)
		fam := 0
		if r.Is4() {
			fam = 1
		}
		if o := last[fam]; o != nil {
			if got, want := compareSize(ri, o), r.Size().Compare(o.target().Size()); got != want {
				t.Fatalf("compareSize(%s, %s) = %d, want %d", r, o.target(), got, want)
			}
		}
		last[fam] = ri
		got := ri.appendCover(nil, 7)
		var want []entry
		for p := range r.Prefixes() {
			want = append(want, entryOf(p, 7))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("cover of %s: %d entries %v, want %d %v", s, len(got), got, len(want), want)
		}
		if n := ri.coverLen(); n != len(want) {
			t.Fatalf("coverLen of %s = %d, want %d", s, n, len(want))
		}
	}
}

// entryOf is the entry of prefix p of a rule, from netip values.
func entryOf(p netip.Prefix, rule uint32) entry {
	a := p.Addr().As16()
	e := entry{hi: binary.BigEndian.Uint64(a[:8]), lo: binary.BigEndian.Uint64(a[8:]), fb: uint16(p.Bits()), rule: rule}
	if p.Addr().Is6() {
		e.fb |= 1 << 8
	}
	return e
}

// TestSmallTableInPlace pins where the tables live: a compiled small
// policy's table in its snapshot, holding every prefix of a table built
// the plain way, and a large policy's in a bart.Table of its own.
func TestSmallTableInPlace(t *testing.T) {
	t.Parallel()
	p := policy.New()
	for i := range 300 {
		p.Rules = append(p.Rules, policy.Rule{ID: fmt.Sprint("r", i), Action: policy.Action(1 + i%2),
			Target: rangeset.PrefixRange(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i % 7), byte(i), 0}), 16+i%9))})
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _, err := compile(p, t0, false)
	if err != nil {
		t.Fatal(err)
	}
	if s.table.fast != &s.own {
		t.Fatalf("a %d-rule policy's table is not in its snapshot", len(p.Rules))
	}
	plain, _, err := compile(p, t0, true)
	if err != nil {
		t.Fatal(err)
	}
	if plain.table.large == nil || plain.table.fast != nil {
		t.Fatal("compile(large) did not build a bart.Table")
	}
	got, want := maps.Collect(s.table.All()), maps.Collect(plain.table.All())
	if len(got) != len(want) || s.own.Size() != len(want) {
		t.Fatalf("in-place table holds %d prefixes (size %d), want %d", len(got), s.own.Size(), len(want))
	}
	for pfx, lf := range want {
		if g, ok := got[pfx]; !ok || g.allow() != lf.allow() || g.winner() != lf.winner() || g.split() != lf.split() {
			t.Fatalf("prefix %s: in-place leaf %+v (present %v), want %+v", pfx, g, ok, lf)
		}
	}
}
