package bench

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

// noFeed hides a store's change feed: its follower loads the whole policy
// on each change, as every follower did before issue 15.
type noFeed struct{ ms store.Watcher }

func (s noFeed) Watch(ctx context.Context, name string) (<-chan struct{}, error) {
	return s.ms.Watch(ctx, name)
}

func (s noFeed) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	return s.ms.Load(ctx, name)
}

// BenchmarkFollowChange: one single-rule edit of a memstore policy of 1k,
// 100k or 1M rules, until a follower serves it. follow=feed applies the
// store's change feed; follow=reload hides it, so that each change loads
// and validates the whole policy. It reports the wall time from the write
// to the follower serving it (ns/op), the CPU of the process per change,
// the writer's thread CPU in the store's write, and the rest: the
// follower's CPU per change (with the garbage collector's share).
func BenchmarkFollowChange(b *testing.B) {
	if testing.Short() {
		b.Skip("not in -short mode")
	}
	for _, size := range sizes {
		for _, mode := range []string{"feed", "reload"} {
			b.Run("rules="+size.name+"/follow="+mode, func(b *testing.B) {
				ctx := context.Background()
				ms := memstore.New(nil)
				if _, err := ms.Put(ctx, "p", work(size.n, Options{}).Policy, store.Any); err != nil {
					b.Fatal(err)
				}
				var st store.Store = ms
				if mode == "reload" {
					st = noFeed{ms.(store.Watcher)}
				}
				if _, ok := st.(store.Feed); ok != (mode == "feed") {
					b.Fatalf("the store is a Feed: %v", ok)
				}
				f, err := follow.Follow(ctx, st, "p", nil)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				probe := policy.Rule{ID: "bench-probe", Target: rangeset.RangeFrom(fleetProbe, fleetProbe), Action: policy.Deny}
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				atRest()
				var writer int64
				cpu0 := cpuTime()
				i := 0
				for b.Loop() {
					probe.Action = policy.Action(1 + i%2)
					i++
					w0 := threadCPU()
					_, rev, err := ms.UpdateRule(ctx, "p", probe, store.Any)
					if i == 1 && err != nil { // the first edit creates it
						_, rev, err = ms.CreateRule(ctx, "p", probe, store.Any)
					}
					writer += threadCPU() - w0
					if err != nil {
						b.Fatal(err)
					}
					wctx, cancel := context.WithTimeout(ctx, time.Minute)
					err = f.Wait(wctx, rev)
					cancel()
					if err != nil {
						b.Fatal(err)
					}
				}
				cpu := cpuTime() - cpu0
				n := float64(b.N)
				b.ReportMetric(float64(cpu)/n, "cpu-ns/change")
				b.ReportMetric(float64(writer)/n, "writer-cpu-ns/change")
				b.ReportMetric((float64(cpu)-float64(writer))/n, "follower-cpu-ns/change")
			})
		}
	}
}
