// Package storebench holds the benchmark workload of the module's stores:
// [Bench] measures replacing, loading, listing, reading and patching rules
// of a large policy, built by [Large], so that the stores can be compared
// on one workload. Their tests import it; it is not part of the
// conformance contract, which is package storetest's.
package storebench

import (
	"fmt"
	"testing"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// Large returns a valid policy of n rules: IPv4 prefixes, hosts, ranges and
// IPv6 prefixes, each allow or deny, with ids r0 .. r(n-1).
func Large(n int) policy.Policy {
	p := policy.New()
	for i := range n {
		var target string
		switch i % 4 {
		case 0:
			target = fmt.Sprintf("%d.%d.%d.0/24", 1+i>>16%200, i>>8%256, i%256)
		case 1:
			target = fmt.Sprintf("203.%d.%d.%d", i>>16%256, i>>8%256, i%256)
		case 2:
			target = fmt.Sprintf("10.%d.%d.1-10.%d.%d.77", i>>8%256, i%256, i>>8%256, i%256)
		default:
			target = fmt.Sprintf("2001:db8:%x:%x::/64", i>>16, i&0xffff)
		}
		p.Rules = append(p.Rules, policy.Rule{ID: fmt.Sprint("r", i), Target: rangeset.MustParseRange(target), Action: policy.Action(1 + i%2)})
	}
	return p
}

// Bench measures replacing every rule of a policy of n rules at once,
// loading it back, and patching one rule of it, on stores that newStore
// makes.
func Bench(b *testing.B, n int, newStore func(b *testing.B) store.Editor) {
	p := Large(n)
	withLarge := func(b *testing.B) store.Editor { // a new store holding p
		s := newStore(b)
		if _, err := s.Put(b.Context(), "large", p, store.Any); err != nil {
			b.Fatal(err)
		}
		return s
	}
	b.Run(fmt.Sprintf("rules=%dk/op=replace-all", n/1000), func(b *testing.B) {
		s := newStore(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Put(b.Context(), "large", p, store.Any); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("rules=%dk/op=load", n/1000), func(b *testing.B) {
		s := withLarge(b)
		b.ReportAllocs()
		for b.Loop() {
			if got, _, err := s.Load(b.Context(), "large"); err != nil || len(got.Rules) != n {
				b.Fatalf("Load = %d rules, %v", len(got.Rules), err)
			}
		}
	})
	b.Run(fmt.Sprintf("rules=%dk/op=list-page", n/1000), func(b *testing.B) {
		s := withLarge(b)
		q := store.Query{Action: policy.Allow, SortBy: "ip", Offset: 40, Limit: 20}
		b.ReportAllocs()
		for b.Loop() {
			if page, total, err := s.ListRules(b.Context(), "large", q); err != nil || len(page) != 20 || total == 0 {
				b.Fatalf("ListRules = %d rules of %d, %v", len(page), total, err)
			}
		}
	})
	b.Run(fmt.Sprintf("rules=%dk/op=get-one", n/1000), func(b *testing.B) {
		s := withLarge(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, _, err := s.GetRule(b.Context(), "large", fmt.Sprint("r", i*7919%n)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("rules=%dk/op=patch-one", n/1000), func(b *testing.B) {
		s := withLarge(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			comment := fmt.Sprint(i)
			if _, _, err := s.PatchRule(b.Context(), "large", fmt.Sprint("r", i*7919%n), store.Patch{Comment: &comment}, store.Any); err != nil {
				b.Fatal(err)
			}
		}
	})
}
