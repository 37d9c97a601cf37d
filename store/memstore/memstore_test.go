package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"

	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/storebench"
	"github.com/ipgate/ipgate/store/memstore"
	"github.com/ipgate/ipgate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Editor {
		return memstore.New(&memstore.Options{Now: now})
	})
}

func BenchmarkStore(b *testing.B) {
	storebench.Bench(b, 100_000, func(*testing.B) store.Editor { return memstore.New(nil) })
}

// TestRevisionsNeverRepeat writes, deletes and creates a policy again from
// several goroutines while a reader loads it after every notification: no
// revision is ever served with two different contents, and none goes back.
func TestRevisionsNeverRepeat(t *testing.T) {
	ctx := t.Context()
	st := memstore.New(nil)
	wctx, cancel := context.WithCancel(ctx)
	ch, err := st.(store.Watcher).Watch(wctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[store.Revision]string{}
	var last store.Revision
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ch {
			p, rev, err := st.Load(ctx, "p")
			if err != nil {
				continue // deleted
			}
			if rev < last {
				t.Errorf("revision went back from %d to %d", last, rev)
			}
			last = rev
			c := p.Rules[0].Comment
			if prev, ok := seen[rev]; ok && prev != c {
				t.Errorf("revision %d served as %q and as %q", rev, prev, c)
			}
			seen[rev] = c
		}
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				r := policy.Rule{ID: "r", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow, Comment: fmt.Sprint(w, "-", i)}
				if _, err := st.Put(ctx, "p", policy.New(r), store.Any); err != nil {
					t.Error(err)
				}
				if i%3 == 0 {
					if err := st.Delete(ctx, "p", store.Any); err != nil && !errors.Is(err, store.ErrNotFound) {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	final, _ := st.Put(ctx, "p", policy.New(policy.Rule{ID: "r", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Deny, Comment: "final"}), store.Any)
	if final <= 800 {
		t.Errorf("after 801 puts the revision is %d: a deleted policy's revisions were reused", final)
	}
	time.Sleep(10 * time.Millisecond)
	cancel()
	<-done
}
