package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// hub multiplexes every watcher of a store, whatever the policy, over one
// LISTEN connection: a session, open while there are watchers. When the
// session's connection is lost, or stops answering (a connection that
// stays quiet for Options.KeepAlive is pinged, and must answer within as
// long), every watch channel is closed at once (a follower then says so
// and watches again), and the next Watch connects anew; failed
// connections make the following Watch calls fail at once with the same
// error until a backoff has passed, so that a fleet of followers does not
// dial a server that is down in step.
type hub struct {
	d *db

	mu       sync.Mutex
	sess     *session
	dialing  chan struct{} // closed when the dial under way ends; nil when none is
	watchers map[string]map[chan struct{}]struct{}
	n        int           // watchers of sess
	err      error         // the last failure to connect
	retryAt  time.Time     // no dialing before
	wait     time.Duration // the backoff after the next failure
}

// session is one LISTEN connection's life.
type session struct {
	cancel context.CancelFunc
	lost   chan struct{} // closed when the session ends
}

// notifyPayload is what a commit announces: its revision, then the policy.
func notifyPayload(name string, rev store.Revision) string {
	return strconv.FormatUint(uint64(rev), 10) + " " + name
}

func parsePayload(s string) (name string, rev store.Revision, ok bool) {
	r, name, ok := strings.Cut(s, " ")
	n, err := strconv.ParseUint(r, 10, 64)
	return name, store.Revision(n), ok && err == nil
}

func (h *hub) watch(ctx context.Context, name string) (<-chan struct{}, error) {
	q := rangeset.Quote(name)
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.sess == nil {
		if now := time.Now(); now.Before(h.retryAt) {
			return nil, fmt.Errorf("postgres: watching %s: %w (next attempt in %v)", q, h.err, h.retryAt.Sub(now).Round(time.Millisecond))
		}
		// One dial at a time: concurrent watchers wait for its session
		// instead of opening a connection each, each as long as its own
		// context lets it.
		if d := h.dialing; d != nil {
			h.mu.Unlock()
			select {
			case <-d:
				h.mu.Lock()
				continue
			case <-ctx.Done():
				h.mu.Lock()
				return nil, fmt.Errorf("postgres: watching %s: %w", q, ctx.Err())
			}
		}
		if err := h.dial(ctx); err != nil {
			return nil, fmt.Errorf("postgres: watching %s: %w", q, err)
		}
	}
	s := h.sess
	ch := make(chan struct{}, 1)
	if h.watchers == nil {
		h.watchers = map[string]map[chan struct{}]struct{}{}
	}
	if h.watchers[name] == nil {
		h.watchers[name] = map[chan struct{}]struct{}{}
	}
	h.watchers[name][ch] = struct{}{}
	h.n++
	go func() {
		select {
		case <-s.lost: // the loop closed ch
		case <-ctx.Done():
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.sess != s {
				return
			}
			delete(h.watchers[name], ch)
			if len(h.watchers[name]) == 0 {
				delete(h.watchers, name)
			}
			close(ch)
			if h.n--; h.n == 0 {
				h.sess = nil
				s.cancel()
			}
		}
	}()
	return ch, nil
}

// dial opens the session. h.mu is held on entry and on return, but not
// while dialing, which ends within Options.KeepAlive: a server that
// accepts connections without answering them is a failure too.
func (h *hub) dial(ctx context.Context) error {
	done := make(chan struct{})
	h.dialing = done
	h.mu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, h.d.keepAlive)
	conn, err := h.d.listen(dctx)
	cancel()
	h.mu.Lock()
	h.dialing = nil
	close(done)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil { // the server's failure, not the caller's: back off
		h.wait = min(max(2*h.wait, h.d.retry), time.Minute)
		h.retryAt = time.Now().Add(h.wait/2 + rand.N(h.wait/2+1))
		h.err = err
		return err
	}
	h.wait, h.err = 0, nil
	lctx, lcancel := context.WithCancel(context.Background())
	s := &session{cancel: lcancel, lost: make(chan struct{})}
	h.sess = s
	go h.loop(lctx, conn, s)
	return nil
}

// loop hands the session's notifications to the watchers until ctx is done
// or the connection is lost or stops answering, which closes every watch
// channel.
func (h *hub) loop(ctx context.Context, conn *pgx.Conn, s *session) {
	defer close(s.lost)
	for {
		wctx, cancel := context.WithTimeout(ctx, h.d.keepAlive)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && wctx.Err() != nil && h.d.alive(ctx, conn) {
				continue // quiet, but the server answers
			}
			break
		}
		name, _, ok := parsePayload(n.Payload)
		if !ok {
			continue
		}
		h.mu.Lock()
		for ch := range h.watchers[name] {
			select {
			case ch <- struct{}{}:
			default: // a value is pending: bursts coalesce
			}
		}
		h.mu.Unlock()
	}
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	conn.Close(cctx)
	cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sess != s {
		return // stopped: its watchers are gone
	}
	for _, chans := range h.watchers {
		for ch := range chans {
			close(ch)
		}
	}
	h.sess, h.watchers, h.n = nil, nil, 0
	s.cancel()
}

// alive reports whether the server answers a ping on conn within
// Options.KeepAlive.
func (d *db) alive(ctx context.Context, conn *pgx.Conn) bool {
	ctx, cancel := context.WithTimeout(ctx, d.keepAlive)
	defer cancel()
	return conn.Ping(ctx) == nil
}

func (d *db) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{d.name}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("listen: %w", err)
	}
	return conn, nil
}
