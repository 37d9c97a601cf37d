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

// hub multiplexes every watcher of a Store, whatever the policy, over one
// LISTEN connection: a session, open while there are watchers. When the
// session's connection is lost, every watch channel is closed at once (a
// follower then says so and watches again), and the next Watch connects
// anew; failed connections make the following Watch calls fail at once
// with the same error until a backoff has passed, so that a fleet of
// followers does not dial a server that is down in step.
type hub struct {
	d *db

	mu       sync.Mutex
	sess     *session
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
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sess == nil {
		if now := time.Now(); now.Before(h.retryAt) {
			return nil, fmt.Errorf("postgres: watching %s: %w (next attempt in %v)", rangeset.Quote(name), h.err, h.retryAt.Sub(now).Round(time.Millisecond))
		}
		// Dialing under the lock makes concurrent watchers wait for one
		// connection instead of opening one each.
		conn, err := h.d.listen(ctx)
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("postgres: watching %s: %w", rangeset.Quote(name), ctx.Err())
		}
		if err != nil { // the server's failure, not the caller's: back off
			h.wait = min(max(2*h.wait, h.d.retry), time.Minute)
			h.retryAt = time.Now().Add(h.wait/2 + rand.N(h.wait/2+1))
			h.err = err
			return nil, fmt.Errorf("postgres: watching %s: %w", rangeset.Quote(name), err)
		}
		h.wait, h.err = 0, nil
		lctx, cancel := context.WithCancel(context.Background())
		s := &session{cancel: cancel, lost: make(chan struct{})}
		h.sess = s
		go h.loop(lctx, conn, s)
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

// loop hands the session's notifications to the watchers until ctx is done
// or the connection is lost, which closes every watch channel.
func (h *hub) loop(ctx context.Context, conn *pgx.Conn, s *session) {
	defer close(s.lost)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
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
