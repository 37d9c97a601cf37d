package filestore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// history writes three revisions of acme through a writer and returns a
// follower's store that has served the third. backup, when not nil, is
// called after the first.
func history(t *testing.T, dir string, backup func()) (follower fileStore, served store.Revision) {
	t.Helper()
	ctx := t.Context()
	w := open(t, dir)
	for i, id := range []string{"a", "b", "c"} {
		if _, _, err := w.CreateRule(ctx, "acme", rule(id, "10.0."+string(rune('1'+i))+".0/24", policy.Allow), store.Any); err != nil {
			t.Fatal(err)
		}
		if i == 0 && backup != nil {
			backup()
		}
	}
	follower = open(t, dir)
	_, served, err := follower.Load(ctx, "acme")
	if err != nil || served != 3 {
		t.Fatalf("follower Load = rev %d, %v; want 3", served, err)
	}
	return follower, served
}

// ban commits a deny rule through a store opened afresh, as another
// process would, and checks that the follower then serves it under a
// revision above the one it served.
func ban(t *testing.T, dir string, follower fileStore, served store.Revision) {
	t.Helper()
	ctx := t.Context()
	_, rev, err := open(t, dir).CreateRule(ctx, "acme", rule("ban", "192.0.2.66", policy.Deny), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	p, now, err := follower.Load(ctx, "acme")
	if err != nil || now <= served || now != rev || p.Rules[len(p.Rules)-1].ID != "ban" {
		t.Fatalf("after a ban committed at revision %d the follower loads revision %d (%v), having served %d: "+
			"a follower would ignore the ban", rev, now, err, served)
	}
	if _, again, _ := open(t, dir).Load(ctx, "acme"); again != now {
		t.Errorf("another store loads revision %d, the follower %d", again, now)
	}
}

// TestLostRevisionFile is issue 13 finding 7: with the revision record
// lost, a ban committed afterwards must still come after what followers
// served.
func TestLostRevisionFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	follower, served := history(t, dir, nil)
	if err := os.Remove(filepath.Join(dir, ".acme.json.rev")); err != nil {
		t.Fatal(err)
	}
	// The follower still serves the same document under the same revision,
	// and records it again.
	if _, rev, err := follower.Load(t.Context(), "acme"); err != nil || rev != served {
		t.Errorf("follower Load after the record was lost = %d, %v; want %d again", rev, err, served)
	}
	os.Remove(filepath.Join(dir, ".acme.json.rev"))
	ban(t, dir, follower, served)
}

// TestRestoredRevisionFile restores the record from a backup taken at
// revision 1, alone and with its document.
func TestRestoredRevisionFile(t *testing.T) {
	t.Parallel()
	t.Run("record", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		rec := filepath.Join(dir, ".acme.json.rev")
		follower, served := history(t, dir, func() { copyFile(t, rec, rec+".bak") })
		copyFile(t, rec+".bak", rec)
		ban(t, dir, follower, served)
	})
	t.Run("record and document", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		rec, doc := filepath.Join(dir, ".acme.json.rev"), filepath.Join(dir, "acme.json")
		follower, served := history(t, dir, func() {
			copyFile(t, rec, rec+".bak")
			copyFile(t, doc, doc+".bak")
		})
		copyFile(t, rec+".bak", rec)
		copyFile(t, doc+".bak", doc)
		// The restored policy is served as a new revision, not as the old one.
		p, rev, err := follower.Load(t.Context(), "acme")
		if err != nil || rev <= served || len(p.Rules) != 1 {
			t.Fatalf("follower Load after a restore = %d rules at rev %d, %v; want 1 rule above revision %d", len(p.Rules), rev, err, served)
		}
		ban(t, dir, follower, rev)
	})
}

// TestDeletedAndLost: a policy deleted, its record lost, created again:
// a follower that served it never sees an old revision again.
func TestDeletedAndLost(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	follower, served := history(t, dir, nil)
	if err := open(t, dir).Delete(ctx, "acme", store.Any); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, ".acme.json.rev"))
	if _, err := open(t, dir).Put(ctx, "acme", policy.New(rule("x", "10.9.0.0/16", policy.Deny)), store.Any); err != nil {
		t.Fatal(err)
	}
	if p, rev, err := follower.Load(ctx, "acme"); err != nil || rev <= served || p.Rules[0].ID != "x" {
		t.Fatalf("follower Load = %v at revision %d, %v; want x above %d", p.Rules, rev, err, served)
	}
}
