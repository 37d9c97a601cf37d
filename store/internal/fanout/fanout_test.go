package fanout

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func recv(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no notification", what)
	}
}

func none(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s: unexpected notification", what)
	default:
	}
}

func TestCoalesceAndSeparate(t *testing.T) {
	var h Hub
	ctx, cancel := context.WithCancel(t.Context())
	a1, _ := h.Watch(ctx, "a")
	a2, _ := h.Watch(ctx, "a")
	b, _ := h.Watch(ctx, "b")
	for range 100 { // never blocks, however many
		h.Notify("a")
	}
	recv(t, a1, "a1")
	recv(t, a2, "a2")
	none(t, a1, "a1 after a burst") // the burst coalesced into one value
	none(t, b, "b after notifying a")
	h.NotifyAll()
	recv(t, a1, "a1 NotifyAll")
	recv(t, b, "b NotifyAll")
	cancel()
	for _, ch := range []<-chan struct{}{a1, a2, b} {
		for range ch { // closed once ctx is done
		}
	}
	h.Notify("a") // no watcher left: nothing to do, no panic on a closed channel
}

// TestSource checks that a name's source runs exactly while it has
// watchers, and that a failing source fails Watch.
func TestSource(t *testing.T) {
	var mu sync.Mutex
	running := map[string]int{}
	stopped := make(chan string, 10)
	fail := errors.New("cannot start")
	h := New(func(_ context.Context, name string) (func(), error) {
		if name == "bad" {
			return nil, fail
		}
		mu.Lock()
		defer mu.Unlock()
		running[name]++
		return func() {
			mu.Lock()
			running[name]--
			mu.Unlock()
			stopped <- name
		}, nil
	})
	if _, err := h.Watch(t.Context(), "bad"); !errors.Is(err, fail) {
		t.Fatalf("Watch with a failing source = %v", err)
	}
	ctx1, cancel1 := context.WithCancel(t.Context())
	ctx2, cancel2 := context.WithCancel(t.Context())
	c1, _ := h.Watch(ctx1, "a")
	c2, _ := h.Watch(ctx2, "a")
	mu.Lock()
	if running["a"] != 1 {
		t.Errorf("two watchers of a: %d sources running, want 1", running["a"])
	}
	mu.Unlock()
	cancel1()
	for range c1 {
	}
	select {
	case <-stopped:
		t.Fatal("the source stopped while a watcher remained")
	case <-time.After(10 * time.Millisecond):
	}
	cancel2()
	for range c2 {
	}
	select {
	case name := <-stopped:
		if name != "a" {
			t.Errorf("stopped %q", name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the source was not stopped after the last watcher left")
	}
	// A new first watcher starts it again.
	c3, _ := h.Watch(t.Context(), "a")
	mu.Lock()
	if running["a"] != 1 {
		t.Errorf("after a restart: %d sources running, want 1", running["a"])
	}
	mu.Unlock()
	h.Notify("a")
	recv(t, c3, "c3")
}

func TestConcurrent(t *testing.T) {
	h := New(func(context.Context, string) (func(), error) { return func() {}, nil })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				ctx, cancel := context.WithCancel(t.Context())
				ch, err := h.Watch(ctx, []string{"a", "b"}[i%2])
				if err != nil {
					cancel()
					t.Error(err)
					return
				}
				h.Notify("a")
				h.NotifyAll()
				cancel()
				for range ch {
				}
			}
		}()
	}
	wg.Wait()
}
