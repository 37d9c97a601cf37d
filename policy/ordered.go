package policy

import (
	"bufio"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ipgate/ipgate/rangeset"
)

// Ordered is one entry of an ordered first-match list, such as nginx's
// allow and deny lines: the first entry whose target contains an address
// decides it.
type Ordered struct {
	ID     string
	Target rangeset.Range
	Action Action
}

// FromOrdered converts an ordered first-match list into an order-free
// policy with exactly the same decisions: the address space is cut at
// every entry's ends, each piece goes to the first entry that contains
// it, and adjacent pieces of one entry are merged into a range. The
// resulting rules do not overlap, so no precedence can change what the
// list said; each is named after its entry ("ID", then "ID.2", "ID.3" when
// an entry survives in several pieces). Addresses no entry contains get
// dflt. It takes time quadratic in the length of the list, meant for
// hand-written lists of up to some thousands of entries.
func FromOrdered(list []Ordered, dflt DefaultAction) (Policy, error) {
	p := Policy{Settings: DefaultSettings()}
	p.Settings.DefaultAction = dflt
	for i, e := range list {
		if !e.Target.IsValid() || !e.Action.IsValid() {
			return Policy{}, fmt.Errorf("policy.FromOrdered: entry %d (%q): invalid target or action", i, e.ID)
		}
	}
	pieces := map[string]int{} // id -> how many rules it has named
	for _, is4 := range []bool{true, false} {
		// The cut points: every entry's start, and the address after its end.
		var cuts []netip.Addr
		for _, e := range list {
			if e.Target.Is4() != is4 {
				continue
			}
			cuts = append(cuts, e.Target.From())
			if n := e.Target.To().Next(); n.IsValid() && n.Is4() == is4 {
				cuts = append(cuts, n)
			}
		}
		slices.SortFunc(cuts, netip.Addr.Compare)
		cuts = slices.Compact(cuts)
		// Each piece [cuts[k], cuts[k+1]-1] is decided by its first entry.
		owner, start := -1, netip.Addr{}
		flush := func(end netip.Addr) {
			if owner < 0 {
				return
			}
			e := list[owner]
			pieces[e.ID]++
			id := e.ID
			if pieces[e.ID] > 1 {
				id += "." + strconv.Itoa(pieces[e.ID])
			}
			p.Rules = append(p.Rules, Rule{ID: id, Target: rangeset.RangeFrom(start, end), Action: e.Action})
		}
		for _, from := range cuts {
			first := slices.IndexFunc(list, func(e Ordered) bool { return e.Target.Contains(from) })
			if first == owner {
				continue
			}
			flush(from.Prev())
			owner, start = first, from
		}
		flush(rangeset.Family(is4).To())
	}
	slices.SortFunc(p.Rules, func(a, b Rule) int { return a.Target.Compare(b.Target) })
	if err := p.Validate(); err != nil {
		return Policy{}, fmt.Errorf("policy.FromOrdered: %w", err)
	}
	return p, nil
}

// ParseNginx reads nginx access directives, "allow ADDRESS|CIDR|all;" and
// "deny ...;", one per line, with # comments, into an ordered list whose
// entries are named "line<N>". "all" stands for both families. Anything
// else is an error naming the line. nginx allows what no line matches, so
// pass DefaultAllow to [FromOrdered].
func ParseNginx(text string) ([]Ordered, error) {
	var list []Ordered
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Fields(strings.TrimSuffix(line, ";"))
		if !strings.HasSuffix(line, ";") || len(f) != 2 || f[0] != "allow" && f[0] != "deny" {
			return nil, fmt.Errorf("policy.ParseNginx: line %d: %q: want \"allow TARGET;\" or \"deny TARGET;\"", n, cutText(line))
		}
		a := Allow
		if f[0] == "deny" {
			a = Deny
		}
		id := "line" + strconv.Itoa(n)
		if f[1] == "all" {
			list = append(list,
				Ordered{ID: id, Target: rangeset.MustParseRange("0.0.0.0/0"), Action: a},
				Ordered{ID: id, Target: rangeset.MustParseRange("::/0"), Action: a})
			continue
		}
		r, err := rangeset.ParseRange(f[1])
		if err != nil {
			return nil, fmt.Errorf("policy.ParseNginx: line %d: %w", n, err)
		}
		list = append(list, Ordered{ID: id, Target: r, Action: a})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("policy.ParseNginx: %w", err)
	}
	return list, nil
}

func cutText(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
