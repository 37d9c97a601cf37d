package filestore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/filestore"
	"github.com/ipgate/ipgate/store/internal/storebench"
)

// TestOwnWriteNotReadBack: a writer and a follower sharing one store read
// and decode the document once, when it is first loaded; their own writes
// are never read back, by the writer's next edit, the follower's Load or
// its Changes.
func TestOwnWriteNotReadBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := open(t, t.TempDir())
	if _, err := s.Put(ctx, "p", storebench.Large(100), store.Any); err != nil {
		t.Fatal(err)
	}
	p, rev, err := s.Load(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	base := filestore.Decoded(s)
	comment := "c"
	for i := range 10 {
		if _, _, err := s.PatchRule(ctx, "p", fmt.Sprint("r", i), store.Patch{Comment: &comment}, store.Any); err != nil {
			t.Fatal(err)
		}
		changes, next, err := s.Changes(ctx, "p", rev)
		if err != nil || len(changes) != 1 || changes[0].Rule == nil || changes[0].Rule.ID != fmt.Sprint("r", i) {
			t.Fatalf("Changes(%d) after patching r%d = %+v, %d, %v", rev, i, changes, next, err)
		}
		rev = next
		if p, rev2, err := s.Load(ctx, "p"); err != nil || rev2 != rev || p.Rules[i].Comment != "c" {
			t.Fatalf("Load = %d, %v", rev2, err)
		}
	}
	if got := filestore.Decoded(s) - base; got != 0 {
		t.Errorf("10 writes, each followed by Changes and Load, decoded the document %d times, want 0", got)
	}
	// The policy returned is a copy: changing it changes nothing stored.
	p.Rules[0].ID = "changed"
	if q, _, _ := s.Load(ctx, "p"); q.Rules[0].ID != "r0" {
		t.Errorf("Load returned shared memory: rule 0 is %q", q.Rules[0].ID)
	}
}

// TestChangesOutsideEdit: a document edited by another process is
// compared with the one served, rule by rule.
func TestChangesOutsideEdit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s := open(t, dir)
	p := policy.New(rule("a", "10.0.0.0/8", policy.Allow), rule("b", "10.1.0.0/16", policy.Deny), rule("c", "10.2.0.0/16", policy.Deny))
	rev, err := s.Put(ctx, "p", p, store.Any)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	// Another process (here: another store) drops b and changes c.
	other := open(t, dir)
	q, _, _ := other.Load(ctx, "p")
	q.Rules = slices.Delete(q.Rules, 1, 2)
	q.Rules[1].Action = policy.Allow
	q.Settings.DefaultAction = policy.DefaultDeny
	if _, err := other.Put(ctx, "p", q, store.Any); err != nil {
		t.Fatal(err)
	}
	changes, next, err := s.Changes(ctx, "p", rev)
	if err != nil || next <= rev {
		t.Fatalf("Changes after an outside edit = %v, %d, %v", changes, next, err)
	}
	var got []string
	for _, c := range changes {
		switch {
		case c.Settings != nil:
			got = append(got, "settings")
		case c.Deleted != "":
			got = append(got, "delete "+c.Deleted)
		default:
			got = append(got, "put "+c.Rule.ID+" "+c.Rule.Action.String())
		}
		if c.Revision != next {
			t.Errorf("change %+v of revision %d, want %d", c, c.Revision, next)
		}
	}
	if want := []string{"settings", "delete b", "put c allow"}; !slices.Equal(got, want) {
		t.Errorf("outside edit derived as %q, want %q", got, want)
	}
	// A hand edit too, and an empty file that is refused keeps the
	// history: the next good document is compared with the last good one.
	doc := filepath.Join(dir, "p.json")
	if err := os.WriteFile(doc, []byte(" "), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Changes(ctx, "p", next); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Changes over an empty document = %v, want ErrInvalid", err)
	}
	if err := os.WriteFile(doc, []byte(`{"rules":[{"id":"a","ip":"10.0.0.0/8","action":"allow"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	changes, _, err = s.Changes(ctx, "p", next)
	if err != nil || len(changes) != 3 { // settings back to the defaults, c deleted, a put (its timestamps dropped)
		t.Errorf("Changes after a hand edit = %+v, %v; want 3", changes, err)
	}
}

// TestChangesRetention: each store keeps its Retention latest changes.
func TestChangesRetention(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s, err := filestore.Open(dir, &filestore.Options{Retention: 2})
	if err != nil {
		t.Fatal(err)
	}
	var revs []store.Revision
	for i := range 4 {
		_, rev, err := s.CreateRule(ctx, "p", rule(fmt.Sprint("r", i), fmt.Sprintf("10.0.%d.0/24", i), policy.Allow), store.Any)
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	for i, rev := range revs {
		_, _, err := s.(store.Feed).Changes(ctx, "p", rev)
		if gap := errors.Is(err, store.ErrGap); gap != (i == 0) {
			t.Errorf("Changes(revs[%d]) = %v, want a gap only for revs[0]", i, err)
		}
	}
	// A fresh store knows no history: it derives from what it has seen.
	fresh, _ := filestore.Open(dir, nil)
	if _, _, err := fresh.(store.Feed).Changes(ctx, "p", revs[2]); !errors.Is(err, store.ErrGap) {
		t.Errorf("Changes on a fresh store = %v, want ErrGap", err)
	}
}

// TestOutsideWriteSameSignature: a write by another process is seen by
// its revision record even when the document keeps its identity, size
// and modification time (rewritten in place within one clock tick).
func TestOutsideWriteSameSignature(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir, odir := t.TempDir(), t.TempDir()
	// One clock for both, so that the documents have the same size.
	opts := &filestore.Options{Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }}
	s, err := filestore.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	other, err := filestore.Open(odir, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rule("a", "10.0.0.1", policy.Allow)
	r.Comment = "aaaa"
	if _, err := s.Put(ctx, "p", policy.New(r), store.Any); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	// Another store writes the same-sized document elsewhere; its files are
	// copied in place over ours and their times set back.
	r.Comment = "bbbb"
	if _, err := other.Put(ctx, "p", policy.New(r), store.Any); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"p.json", ".p.json.rev"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(odir, f))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != fi.Size() {
			t.Fatalf("%s: %d bytes, was %d: not the same size", f, len(data), fi.Size())
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(dir, f), fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	if p, _, err := s.Load(ctx, "p"); err != nil || p.Rules[0].Comment != "bbbb" {
		t.Errorf("Load after an outside write = %+v, %v; want comment bbbb", p.Rules, err)
	}
}

// TestDocumentBytes: the document is exactly json.MarshalIndent's form
// of the policy, HTML escapes and all.
func TestDocumentBytes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	r := rule("a<b>&c", "2001:db8::/32", policy.Deny)
	r.Comment = "<script>\u2028\x01 \"quoted\" \\ é"
	ttl := 30 * time.Second
	r.TTL = &ttl
	if _, _, err := s.CreateRule(t.Context(), "p", r, store.Any); err != nil {
		t.Fatal(err)
	}
	p, _, err := s.Load(t.Context(), "p")
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "p.json"))
	if string(got) != string(want)+"\n" {
		t.Errorf("document:\n%s\nwant:\n%s", got, want)
	}
}
