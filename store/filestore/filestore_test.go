package filestore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/filestore"
	"github.com/ipgate/ipgate/store/internal/storebench"
	"github.com/ipgate/ipgate/store/storetest"
)

// fileStore is what filestore.Open returns: an Editor that is also a
// Watcher and a Feed.
type fileStore interface {
	store.Editor
	store.Watcher
	store.Feed
}

func open(t testing.TB, dir string) fileStore {
	t.Helper()
	s, err := filestore.Open(dir, &filestore.Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s.(fileStore)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Editor {
		s, err := filestore.Open(t.TempDir(), &filestore.Options{Now: now, PollInterval: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func rule(id, target string, a policy.Action) policy.Rule {
	return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: a}
}

// leftovers lists temporary files in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	return m
}

func TestFileFormAndMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Put(t.Context(), "acme", policy.New(rule("office", "10.0.0.0/8", policy.Allow)), store.Any); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "acme.json")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("document %v, mode %v; want 0600", err, fi.Mode())
	}
	data, _ := os.ReadFile(path)
	if _, err := policy.Decode(data); err != nil || !strings.Contains(string(data), `"ip": "10.0.0.0/8"`) {
		t.Errorf("document is not the strict form: %v\n%s", err, data)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
	for _, bad := range []string{"", ".hidden", "a/b", "../x", strings.Repeat("x", 201)} {
		_, _, err := s.Load(t.Context(), bad)
		want := "filestore: policy names are 1 to 200 letters, digits, '.', '_' or '-', not starting with '.': " + rangeset.Quote(bad)
		if !errors.Is(err, filestore.ErrName) || !errors.Is(err, store.ErrInvalid) || err.Error() != want {
			t.Errorf("Load(%q) = %v, want ErrName, an ErrInvalid: %s", bad, err, want)
		}
	}
}

func TestNoTempFileOnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	// A directory where the document should be: the rename fails.
	if err := os.Mkdir(filepath.Join(dir, "acme.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acme.json", "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "acme", policy.New(), store.Any); err == nil {
		t.Fatal("Put over a directory succeeded")
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left after an error: %v", l)
	}
}

// TestOutsideChanges edits the document as an editor, a deploy tool and a
// symlink swap would; a watcher of the store is told of each one, and Load
// serves each under a new revision.
func TestOutsideChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	ctx := t.Context()
	rev, _ := s.Put(ctx, "acme", policy.New(rule("office", "10.0.0.0/8", policy.Allow)), store.Any)
	ch, err := s.Watch(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "acme.json")
	doc := func(action string) []byte {
		return []byte(`{"rules": [{"id": "office", "ip": "10.0.0.0/8", "action": "` + action + `"}]}`)
	}
	waitFor := func(what string, want policy.Action) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case <-ch:
			case <-deadline:
				t.Fatalf("%s: not announced, or not served", what)
			}
			p, now, err := s.Load(ctx, "acme")
			if err != nil || len(p.Rules) != 1 || p.Rules[0].Action != want {
				continue // announced before the change was complete
			}
			if now <= rev {
				t.Fatalf("%s: Load = rev %d; want above %d", what, now, rev)
			}
			rev = now
			return
		}
	}

	// An editor writes the file in place.
	if err := os.WriteFile(path, doc("deny"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("edit in place", policy.Deny)

	// A deploy tool renames a new file over it.
	tmp := filepath.Join(dir, "deploy.tmp")
	os.WriteFile(tmp, doc("allow"), 0o600)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor("rename over", policy.Allow)

	// A symlink swap.
	os.WriteFile(filepath.Join(dir, "v2"), doc("deny"), 0o600)
	os.WriteFile(filepath.Join(dir, "v3"), doc("allow"), 0o600)
	os.Remove(path)
	if err := os.Symlink("v2", path); err != nil {
		t.Fatal(err)
	}
	waitFor("symlink", policy.Deny)
	os.Symlink("v3", path+".new")
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	waitFor("symlink swap", policy.Allow)

	// Broken documents are announced and reported by Load.
	for _, bad := range []string{"", "null", "{not json", `{"rules": [{"id": "x", "ip": "10.0.0.5/24", "action": "deny"}]}`, `{"Rules": []}`} {
		if err := os.WriteFile(path+".bad", []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Rename(path+".bad", path)
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("document %q was not announced", bad)
		}
		if _, _, err := s.Load(ctx, "acme"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Load(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

// The helper processes below are this test binary run again with
// IPGATE_FILESTORE_HELPER set.
func TestMain(m *testing.M) {
	switch os.Getenv("IPGATE_FILESTORE_HELPER") {
	case "writer":
		helperWriter()
		return
	case "creator":
		helperCreator()
		return
	}
	os.Exit(m.Run())
}

// marker returns policy number k: its one rule's comment says k.
func marker(k int) policy.Policy {
	r := rule("k", "10.0.0.0/8", policy.Allow)
	r.Comment = strconv.Itoa(k)
	p := policy.New(r)
	for i := range k % 50 { // vary the size, so that a torn write would show
		p.Rules = append(p.Rules, rule(fmt.Sprint("pad", i), fmt.Sprintf("10.%d.0.0/16", i), policy.Deny))
	}
	return p
}

// helperWriter writes policies 1, 2, ... and prints "ack k" after each
// write returns, until it is killed.
func helperWriter() {
	s, err := filestore.Open(os.Getenv("IPGATE_DIR"), nil)
	if err != nil {
		panic(err)
	}
	start, _ := strconv.Atoi(os.Getenv("IPGATE_START"))
	for k := start; ; k++ {
		if _, err := s.Put(context.Background(), "acme", marker(k), store.Any); err != nil {
			panic(err)
		}
		fmt.Printf("ack %d\n", k)
	}
}

// helperCreator creates rules PREFIX-0 .. PREFIX-(N-1), unconditionally.
func helperCreator() {
	s, err := filestore.Open(os.Getenv("IPGATE_DIR"), nil)
	if err != nil {
		panic(err)
	}
	n, _ := strconv.Atoi(os.Getenv("IPGATE_N"))
	for i := range n {
		r := rule(fmt.Sprintf("%s-%d", os.Getenv("IPGATE_PREFIX"), i), fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), policy.Allow)
		if _, _, err := s.CreateRule(context.Background(), "acme", r, store.Any); err != nil {
			panic(err)
		}
	}
}

func helper(t *testing.T, kind string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"IPGATE_FILESTORE_HELPER=" + kind}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestKilledWriter kills a writing process at random points, many times:
// the document always decodes to the last acknowledged policy or the one in
// flight, and no write tears it.
func TestKilledWriter(t *testing.T) {
	dir := t.TempDir()
	rounds := 40
	if testing.Short() {
		rounds = 10
	}
	rng := rand.New(rand.NewPCG(7, 7))
	next := 1
	s := open(t, dir)
	for round := range rounds {
		cmd := helper(t, "writer", "IPGATE_DIR="+dir, "IPGATE_START="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := make(chan int, 1<<16)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if k, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack ")); err == nil {
					acked <- k
				}
			}
			close(acked)
		}()
		time.Sleep(time.Duration(20+rng.IntN(80)) * time.Millisecond)
		cmd.Process.Kill()
		last := next - 1
		for k := range acked {
			last = k
		}
		cmd.Wait()
		p, _, err := s.Load(t.Context(), "acme")
		if err != nil {
			if last < 1 && errors.Is(err, store.ErrNotFound) {
				continue
			}
			t.Fatalf("round %d: Load after kill = %v", round, err)
		}
		got, _ := strconv.Atoi(p.Rules[0].Comment)
		if got != last && got != last+1 || len(p.Rules) != 1+got%50 {
			t.Fatalf("round %d: document holds policy %d with %d rules; last acknowledged %d", round, got, len(p.Rules), last)
		}
		next = got + 1
		if l := leftovers(t, dir); len(l) > 1 {
			t.Errorf("round %d: %d temporary files left by killed writers", round, len(l))
		}
	}
	t.Logf("%d kills, last policy %d", rounds, next-1)
}

// TestTwoProcesses has two processes create rules in one document at the
// same time: none is lost.
func TestTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	const n = 60
	var cmds []*exec.Cmd
	for _, prefix := range []string{"a", "b"} {
		cmd := helper(t, "creator", "IPGATE_DIR="+dir, "IPGATE_N="+strconv.Itoa(n), "IPGATE_PREFIX="+prefix)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	p, rev, err := open(t, dir).Load(t.Context(), "acme")
	if err != nil || len(p.Rules) != 2*n || rev != 2*n {
		t.Errorf("after two processes: %d rules at revision %d, %v; want %d", len(p.Rules), rev, err, 2*n)
	}
}

func BenchmarkStore(b *testing.B) {
	storebench.Bench(b, 100_000, func(b *testing.B) store.Editor { return open(b, b.TempDir()) })
}
