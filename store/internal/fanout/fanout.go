// Package fanout delivers change notifications to the watchers of named
// policies: the one implementation of the store.Watcher contract that
// every store in this module shares.
//
// A notification carries no data. Each watcher has a channel of capacity
// one, so a burst of notifications coalesces into one pending value, a
// slow watcher never blocks a writer, and none is lost: a notification
// sent after Watch returns is always followed by a value on the channel.
package fanout

import (
	"context"
	"sync"
)

// Source produces the notifications of one name, for as long as the name
// has watchers: a file poller, a LISTEN connection. It is started when the
// name gets its first watcher, before that Watch returns, with the Watch
// call's ctx (which bounds the start, not the source's life), and stopped
// by calling the func it returns when the last one leaves. The calls of
// one hub's source and of the funcs it returned never overlap.
type Source func(ctx context.Context, name string) (stop func(), err error)

// Hub fans notifications out to the watchers of each name. It is safe for
// concurrent use; the zero Hub has no source and is ready to use.
type Hub struct {
	source Source

	// life serializes the start and stop of sources with the arrival of
	// first and the departure of last watchers; mu guards watchers alone,
	// so that Notify never waits for a source starting.
	life    sync.Mutex
	stops   map[string]func()
	mu      sync.Mutex
	watched map[string]map[chan struct{}]struct{}
}

// New returns a hub that starts source for each watched name; a nil source
// starts nothing (the store calls Notify itself).
func New(source Source) *Hub { return &Hub{source: source} }

// Watch returns a channel that receives a value after every Notify of name
// (or NotifyAll) that follows, coalesced; it is closed once ctx is done.
// It starts a goroutine that lives until then. It fails only when the
// name's source cannot start.
func (h *Hub) Watch(ctx context.Context, name string) (<-chan struct{}, error) {
	h.life.Lock()
	defer h.life.Unlock()
	h.mu.Lock()
	first := len(h.watched[name]) == 0
	h.mu.Unlock()
	if first && h.source != nil {
		stop, err := h.source(ctx, name)
		if err != nil {
			return nil, err
		}
		if h.stops == nil {
			h.stops = map[string]func(){}
		}
		h.stops[name] = stop
	}
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.watched == nil {
		h.watched = map[string]map[chan struct{}]struct{}{}
	}
	if h.watched[name] == nil {
		h.watched[name] = map[chan struct{}]struct{}{}
	}
	h.watched[name][ch] = struct{}{}
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.life.Lock()
		defer h.life.Unlock()
		h.mu.Lock()
		delete(h.watched[name], ch)
		close(ch)
		last := len(h.watched[name]) == 0
		if last {
			delete(h.watched, name)
		}
		h.mu.Unlock()
		if stop := h.stops[name]; last && stop != nil {
			delete(h.stops, name)
			stop()
		}
	}()
	return ch, nil
}

// Notify tells every watcher of name that it changed. It never blocks.
func (h *Hub) Notify(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.watched[name] {
		send(ch)
	}
}

// NotifyAll tells every watcher of every name, as after a lost connection
// during which changes may have gone unannounced. It never blocks.
func (h *Hub) NotifyAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, chans := range h.watched {
		for ch := range chans {
			send(ch)
		}
	}
}

func send(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default: // a value is pending: bursts coalesce
	}
}
