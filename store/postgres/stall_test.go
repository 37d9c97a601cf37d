package postgres_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/postgres"
)

// stallProxy forwards TCP connections to a server until stalled: then it
// keeps every connection open but forwards nothing, as a frozen server or
// a middlebox that drops packets would.
type stallProxy struct {
	ln      net.Listener
	target  string
	stalled atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go p.pipe(s, c)
			go p.pipe(c, s)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *stallProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		for p.stalled.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

// TestStalledServer stalls every connection of a watching store: the
// watch must end within the keep-alive, a Watch must fail rather than wait
// for a dial that never answers (and a second Watch must not wait behind
// it past its own context), and watching works again once the server
// answers.
func TestStalledServer(t *testing.T) {
	openStore(t, nil) // a fresh schema, dropped at the end
	schema := fmt.Sprintf("ipgate_test_%d_%d", os.Getpid(), schemas.Load())
	cfg, err := pgx.ParseConfig(dsn())
	if err != nil {
		t.Fatal(err)
	}
	proxy := newStallProxy(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	viaProxy := fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", cfg.User, proxy.ln.Addr(), cfg.Database)
	const keepAlive = 200 * time.Millisecond
	e, closeSt, err := postgres.Open(t.Context(), &postgres.Options{DSN: viaProxy, Schema: schema, KeepAlive: keepAlive, Retry: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer closeSt()
	st := e.(pgStore)
	ch, err := st.Watch(t.Context(), "p")
	if err != nil {
		t.Fatal(err)
	}

	proxy.stalled.Store(true)
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("a notification through a stalled connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch of a stalled server did not end")
	}
	first := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := st.Watch(t.Context(), "p")
		first <- err
	}()
	time.Sleep(20 * time.Millisecond) // the first Watch dials
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	_, err = st.Watch(ctx, "q")
	cancel()
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("a Watch behind a dial to a stalled server = %v after %v", err, time.Since(start))
	}
	select {
	case err := <-first:
		if err == nil {
			t.Error("Watch of a stalled server succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch waited for a stalled server past the keep-alive")
	}

	proxy.stalled.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ch, err = st.Watch(t.Context(), "p"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Watch after the server answers again: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A quiet connection that answers its pings keeps the watch.
	time.Sleep(4 * keepAlive)
	select {
	case <-ch:
		t.Fatal("the watch of a quiet server that answers ended")
	default:
	}
	if _, err := st.Put(t.Context(), "p", policy.New(), store.Any); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-ch:
		if !ok {
			t.Error("the watch ended instead of notifying")
		}
	case <-time.After(5 * time.Second):
		t.Error("no notification after the server answers again")
	}
}
