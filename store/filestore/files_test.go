package filestore_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/filestore"
)

// configMap lays out dir as Kubernetes mounts a ConfigMap: each key a
// symlink through "..data" to a timestamped directory, swapped by
// renaming a new "..data" link over the old one.
type configMap struct {
	t   *testing.T
	dir string
	n   int
}

func (c *configMap) publish(doc string) {
	c.t.Helper()
	c.n++
	ts := filepath.Join(c.dir, "..v"+strings.Repeat("x", c.n))
	if err := os.Mkdir(ts, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, "acme.json"), []byte(doc), 0o444); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Symlink(filepath.Base(ts), filepath.Join(c.dir, "..data_tmp")); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(c.dir, "..data_tmp"), filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
	if c.n == 1 {
		if err := os.Symlink("..data/acme.json", filepath.Join(c.dir, "acme.json")); err != nil {
			c.t.Fatal(err)
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestReadOnlyDirectory follows a ConfigMap-shaped directory in which
// nothing can be created (its ".lock" is a directory, so that even root
// cannot open it, and the directory is read-only): loading and watching
// work, writes fail, and Load leaves no file behind.
func TestReadOnlyDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cm := &configMap{t: t, dir: dir}
	cm.publish(`{"rules": [{"id": "office", "ip": "10.0.0.0/8", "action": "allow"}]}`)
	if err := os.Mkdir(filepath.Join(dir, ".lock"), 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	before := listDir(t, dir)

	s := open(t, dir)
	ctx := t.Context()
	p, rev, err := s.Load(ctx, "acme")
	if err != nil || rev == 0 || p.Rules[0].Action != policy.Allow {
		t.Fatalf("Load in a read-only directory = %+v at revision %d, %v", p.Rules, rev, err)
	}
	if _, again, err := s.Load(ctx, "acme"); err != nil || again != rev {
		t.Errorf("Load again = revision %d, %v; want %d: an unchanged document keeps its revision", again, err, rev)
	}
	if after := listDir(t, dir); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("loading changed the directory: %v, was %v", after, before)
	}
	ch, err := s.Watch(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // the kubelet may write; ipgate may not
	cm.publish(`{"rules": [{"id": "office", "ip": "10.0.0.0/8", "action": "deny"}]}`)
	os.Chmod(dir, 0o555)
	before = listDir(t, dir)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("a ConfigMap swap was not announced")
	}
	p, rev2, err := s.Load(ctx, "acme")
	if err != nil || rev2 <= rev || p.Rules[0].Action != policy.Deny {
		t.Fatalf("Load after a swap = %+v at revision %d, %v; want deny above revision %d", p.Rules, rev2, err, rev)
	}
	if _, err := s.Put(ctx, "acme", policy.New(), store.Any); err == nil {
		t.Error("Put in a read-only directory succeeded")
	}
	if after := listDir(t, dir); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("reading changed the directory: %v, was %v", after, before)
	}
}

// loadWithin fails the test when Load blocks.
func loadWithin(t *testing.T, s store.Store, name string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Load(t.Context(), name)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Load blocked")
		return nil
	}
}

func TestSizeLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := filestore.Open(dir, &filestore.Options{MaxBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"rules": []}` + strings.Repeat(" ", 2000-len(`{"rules": []}`))
	if err := os.WriteFile(filepath.Join(dir, "acme.json"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	err = loadWithin(t, s, "acme")
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "acme.json") ||
		!strings.Contains(err.Error(), "2000 bytes") || !strings.Contains(err.Error(), "limit of 1000") {
		t.Errorf("Load(2000 bytes, limit 1000) = %v; want ErrInvalid naming the file, its size and the limit", err)
	}

	// The default limit refuses a huge (sparse) file without reading it.
	dir = t.TempDir()
	f, err := os.Create(filepath.Join(dir, "acme.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = loadWithin(t, open(t, dir), "acme")
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "1073741824 bytes") {
		t.Errorf("Load(1 GiB) = %v; want ErrInvalid naming its size", err)
	}
}

// TestWriteSizeLimit: a write whose document Load would refuse as too
// large is refused, naming the policy and the limit, and the policy stays
// as it was, readable, with no file left behind.
func TestWriteSizeLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := filestore.Open(dir, &filestore.Options{MaxBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	small, err := policy.Allowlist("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	rev, err := s.Put(ctx, "acme", small, store.Any)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for i := range 100 {
		targets = append(targets, fmt.Sprintf("192.0.2.%d", i))
	}
	large, err := policy.Allowlist(targets...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(ctx, "acme", large, rev)
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), `"acme"`) || !strings.Contains(err.Error(), "limit of 2000 bytes") {
		t.Errorf("Put(a document over the limit) = %v; want ErrInvalid naming the policy and the limit", err)
	}
	// A store opened afresh reads the files, not a cache.
	again, err := filestore.Open(dir, &filestore.Options{MaxBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	p, loadRev, err := again.Load(ctx, "acme")
	if err != nil || loadRev != rev || len(p.Rules) != 1 {
		t.Errorf("after the refused write, Load = %d rules at revision %d, %v; want the 1 rule at %d", len(p.Rules), loadRev, err, rev)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestNotRegular puts a device and a directory where the document
// belongs: Load refuses each, at once, naming the file.
func TestNotRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	path := filepath.Join(dir, "acme.json")
	if _, err := os.Stat(os.DevNull); err == nil {
		if err := os.Symlink(os.DevNull, path); err != nil {
			t.Fatal(err)
		}
		if err := loadWithin(t, s, "acme"); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Load(a link to %s) = %v; want ErrInvalid: not a regular file", os.DevNull, err)
		}
		os.Remove(path)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := loadWithin(t, s, "acme"); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "acme.json") {
		t.Errorf("Load(a directory) = %v; want ErrInvalid naming it", err)
	}
}

func policyOf(id string) policy.Policy { return policy.New(rule(id, "10.0.0.0/8", policy.Allow)) }

// TestTmpInName: a policy may be named like a temporary file; the sweep of
// a killed writer's leftovers keeps its revision record.
func TestTmpInName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	rev, err := s.Put(t.Context(), "a.tmp-b", policyOf("a"), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "other", policyOf("b"), store.Any); err != nil { // sweeps
		t.Fatal(err)
	}
	if _, got, err := open(t, dir).Load(t.Context(), "a.tmp-b"); err != nil || got != rev {
		t.Errorf("a fresh store loads revision %d, %v; want %d, the one recorded", got, err, rev)
	}
}

// TestRecordOverflow: a record whose revision leaves no next one is
// damaged, not wrapped: the document counts as changed outside the store,
// and is never served at revision 0, which means absent.
func TestRecordOverflow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Put(t.Context(), "acme", policyOf("a"), store.Any); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, ".acme.json.rev")
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	_, sum, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
	if err := os.WriteFile(rec, []byte("18446744073709551615 "+sum+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := open(t, dir)
	_, rev, err := fresh.Load(t.Context(), "acme")
	if err != nil || rev == 0 || rev > math.MaxInt64 {
		t.Fatalf("Load = revision %d, %v; want a revision in 1..MaxInt64", rev, err)
	}
	next, err := fresh.Put(t.Context(), "acme", policyOf("b"), rev)
	if err != nil || next <= rev {
		t.Errorf("Put after it = %d, %v; want a revision above %d", next, err, rev)
	}
}

// TestMendDamaged: a document broken by a hand edit is replaced by an
// unconditional Put and removed by an unconditional Delete; every other
// write still refuses it, and a watcher sees the mended policy.
func TestMendDamaged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Put(t.Context(), "acme", policyOf("a"), store.Any); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acme.json"), []byte(`{"rules": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := open(t, dir)
	if _, _, err := fresh.Load(t.Context(), "acme"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Load of a broken document = %v, want ErrInvalid", err)
	}
	if _, _, err := fresh.CreateRule(t.Context(), "acme", rule("b", "10.0.0.2", policy.Allow), store.Any); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CreateRule on a broken document = %v, want ErrInvalid: only a whole replacement mends it", err)
	}
	if _, err := fresh.Put(t.Context(), "acme", policyOf("c"), 1); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a conditional Put on a broken document = %v, want ErrInvalid", err)
	}
	rev, err := fresh.Put(t.Context(), "acme", policyOf("c"), store.Any)
	if err != nil {
		t.Fatalf("an unconditional Put on a broken document: %v", err)
	}
	for _, st := range []fileStore{fresh, open(t, dir)} {
		if p, got, err := st.Load(t.Context(), "acme"); err != nil || got != rev || len(p.Rules) != 1 || p.Rules[0].ID != "c" {
			t.Errorf("Load after mending = %v at %d, %v; want rule c at %d", p.Rules, got, err, rev)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "acme.json"), []byte(`null`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Delete(t.Context(), "acme", store.Any); err != nil {
		t.Fatalf("an unconditional Delete of a broken document: %v", err)
	}
	if _, _, err := open(t, dir).Load(t.Context(), "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load after Delete = %v, want ErrNotFound", err)
	}
}
