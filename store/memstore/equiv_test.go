package memstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/docedit"
	"github.com/ipgate/ipgate/store/memstore"
)

// docs is the simplest whole-document backend: the reference that the
// store's single-rule writes are compared with.
type docs struct {
	mu   sync.Mutex
	p    map[string]policy.Policy
	revs map[string]store.Revision
}

func (d *docs) Load(_ context.Context, name string) (policy.Policy, store.Revision, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.p[name]
	if !ok {
		return policy.Policy{}, 0, store.ErrNotFound
	}
	return p.Clone(), d.revs[name], nil
}

func (d *docs) Swap(_ context.Context, name string, cur store.Revision, p *policy.Policy) (store.Revision, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.p[name]
	if have := map[bool]store.Revision{true: d.revs[name]}[ok]; have != cur {
		return have, &store.ConflictError{Name: name, Expected: cur, Current: have}
	}
	if p == nil {
		delete(d.p, name)
		return 0, nil
	}
	d.revs[name]++
	d.p[name] = p.Clone()
	return d.revs[name], nil
}

// TestSameAsWholePolicyEditor runs one random sequence of writes, valid
// and not, on the store and on the whole-policy editor: every result,
// error text, revision and policy is the same.
func TestSameAsWholePolicyEditor(t *testing.T) {
	ctx := t.Context()
	steps := 3000
	if testing.Short() {
		steps = 400
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	got := memstore.New(&memstore.Options{Now: now})
	want := docedit.New(&docs{p: map[string]policy.Policy{}, revs: map[string]store.Revision{}}, &docedit.Options{Now: now})
	rng := rand.New(rand.NewPCG(7, 8))
	randRule := func() policy.Rule {
		r := policy.Rule{ID: fmt.Sprint("r", rng.IntN(40)), Action: policy.Action(1 + rng.IntN(2))}
		r.Target = rangeset.MustParseRange(fmt.Sprintf("10.%d.0.0/16", rng.IntN(256)))
		switch rng.IntN(12) {
		case 0:
			r.ID = ""
		case 1:
			r.Target = rangeset.Range{}
		case 2:
			r.Action = 0
		case 3:
			ttl := time.Duration(rng.IntN(100)-10) * time.Second
			r.TTL = &ttl
		case 4:
			r.ExpiresAt = clock.Add(time.Hour)
			ttl := 5 * time.Second
			r.TTL = &ttl
		}
		r.Comment = fmt.Sprint(rng.IntN(3))
		return r
	}
	for i := range steps {
		clock = clock.Add(time.Second)
		var g, w string
		switch op := rng.IntN(20); {
		case op < 6:
			r := randRule()
			gr, grev, gerr := got.CreateRule(ctx, "p", r, store.Any)
			wr, wrev, werr := want.CreateRule(ctx, "p", r, store.Any)
			g, w = fmt.Sprint(show(gr), grev, gerr), fmt.Sprint(show(wr), wrev, werr)
		case op < 10:
			r := randRule()
			gr, grev, gerr := got.UpdateRule(ctx, "p", r, store.Any)
			wr, wrev, werr := want.UpdateRule(ctx, "p", r, store.Any)
			g, w = fmt.Sprint(show(gr), grev, gerr), fmt.Sprint(show(wr), wrev, werr)
		case op < 13:
			r := randRule()
			patch := store.Patch{Comment: &r.Comment}
			if rng.IntN(2) == 0 {
				patch.TTL = r.TTL
			}
			if rng.IntN(3) == 0 {
				patch.Target = &r.Target
			}
			gr, grev, gerr := got.PatchRule(ctx, "p", r.ID, patch, store.Any)
			wr, wrev, werr := want.PatchRule(ctx, "p", r.ID, patch, store.Any)
			g, w = fmt.Sprint(show(gr), grev, gerr), fmt.Sprint(show(wr), wrev, werr)
		case op < 16:
			id := randRule().ID
			grev, gerr := got.DeleteRule(ctx, "p", id, store.Any)
			wrev, werr := want.DeleteRule(ctx, "p", id, store.Any)
			g, w = fmt.Sprint(grev, gerr), fmt.Sprint(wrev, werr)
		case op == 16:
			q := store.Query{Action: policy.Action(1 + rng.IntN(2)), Target: randRule().Target}
			gn, grev, gerr := got.DeleteRules(ctx, "p", q, store.Any)
			wn, wrev, werr := want.DeleteRules(ctx, "p", q, store.Any)
			g, w = fmt.Sprint(gn, grev, gerr), fmt.Sprint(wn, wrev, werr)
		case op == 17:
			s := policy.DefaultSettings()
			s.Enabled = rng.IntN(2) == 0
			if rng.IntN(4) == 0 {
				s.DefaultAction = 0
			}
			grev, gerr := got.SetSettings(ctx, "p", s, store.Any)
			wrev, werr := want.SetSettings(ctx, "p", s, store.Any)
			g, w = fmt.Sprint(grev, gerr), fmt.Sprint(wrev, werr)
		case op == 18:
			p, _, _ := want.Load(ctx, "p")
			if len(p.Rules) > 0 && rng.IntN(2) == 0 {
				p.Rules = p.Rules[rng.IntN(len(p.Rules)):]
			}
			p.Rules = append(p.Rules, randRule())
			if p.Settings == (policy.Settings{}) {
				p.Settings = policy.DefaultSettings()
			}
			grev, gerr := got.Put(ctx, "p", p, store.Any)
			wrev, werr := want.Put(ctx, "p", p, store.Any)
			g, w = fmt.Sprint(grev, gerr), fmt.Sprint(wrev, werr)
		default:
			if rng.IntN(4) == 0 {
				gerr, werr := got.Delete(ctx, "p", store.Any), want.Delete(ctx, "p", store.Any)
				g, w = fmt.Sprint(gerr), fmt.Sprint(werr)
			}
		}
		if g != w {
			t.Fatalf("step %d: store %s\nwhole-policy editor %s", i, g, w)
		}
		gp, grev, gerr := got.Load(ctx, "p")
		wp, wrev, werr := want.Load(ctx, "p")
		if g, w := fmt.Sprint(showPolicy(gp), grev, gerr), fmt.Sprint(showPolicy(wp), wrev, werr); g != w {
			t.Fatalf("step %d: store holds %s\nwhole-policy editor %s", i, g, w)
		}
	}
}

func show(r policy.Rule) string {
	ttl := "-"
	if r.TTL != nil {
		ttl = fmt.Sprint(*r.TTL)
	}
	return fmt.Sprintf("{%q %v %v %v %v ttl=%s %v %v %q}", r.ID, r.Target, r.Action, r.AdminOnly, r.ExpiresAt, ttl, r.CreatedAt, r.UpdatedAt, r.Comment)
}

func showPolicy(p policy.Policy) string {
	s := fmt.Sprint(p.Settings)
	for _, r := range p.Rules {
		s += " " + show(r)
	}
	return s
}
