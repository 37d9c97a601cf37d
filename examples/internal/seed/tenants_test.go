package seed

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

func TestTenants(t *testing.T) {
	ctx := t.Context()
	st := memstore.New(nil)
	initial := func() policy.Policy {
		p := policy.New()
		p.Settings.Enabled = false
		return p
	}
	ts := NewTenants(st, initial, &follow.Options{MaxPolicies: 1})
	defer ts.Close()
	probe := check.Request{Addr: netip.MustParseAddr("10.1.2.3")}

	f, err := ts.Get(ctx, "site-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := f.Check(probe); d.Reason != check.ReasonDisabled {
		t.Errorf("a new tenant: %v, want its initial (disabled) policy", d)
	}
	if again, err := ts.Get(ctx, "site-1"); err != nil || again != f {
		t.Errorf("Get again = %p, %v; want the same follower", again, err)
	}

	// A write, then Settle: the next request sees it.
	s := policy.DefaultSettings()
	rev, err := st.SetSettings(ctx, "site-1", s, store.Any)
	if err != nil {
		t.Fatal(err)
	}
	_, rev, err = st.CreateRule(ctx, "site-1", policy.Rule{ID: "ban", Target: rangeset.MustParseRange("10.1.0.0/16"), Action: policy.Deny}, rev)
	if err != nil {
		t.Fatal(err)
	}
	ts.Settle(ctx, "site-1", rev)
	if d := f.Check(probe); d.Rule != "ban" {
		t.Errorf("after Settle(%d): %v, want rule ban", rev, d)
	}

	// Past the bound, nothing is created.
	if _, err := ts.Get(ctx, "site-2"); err == nil || !errors.Is(err, ErrTenantLimit) {
		t.Errorf("Get past the bound = %v", err)
	}
	if _, _, err := st.Load(ctx, "site-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a tenant past the bound was created: Load = %v", err)
	}
}
