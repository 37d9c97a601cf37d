// Package seed holds what the seed-product servers share: the command line
// and the HTTP server they run with (timeouts on every phase of a
// connection), the store (the file store by default, in the user's cache
// directory, or PostgreSQL), the administrator's credential and more
// from a file, the bounded set of tenants they follow, and the bounded,
// strict reading of request bodies.
package seed

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/filestore"
	"github.com/ipgate/ipgate/store/postgres"
)

// tokenEnv names the environment variable that holds the administrator's
// credential; a server does not start without it.
const tokenEnv = "IPGATE_API_TOKEN"

// localDSN is the PostgreSQL server that an empty -postgres uses when
// $IPGATE_POSTGRES_DSN is not set.
const localDSN = "postgres://postgres@127.0.0.1:5432/test"

// Server describes a seed server to Main.
type Server struct {
	// Title names the server in its log.
	Title string
	// Addr is the default of -listen.
	Addr string
	// Data names the default data directory, under the user's cache
	// directory (see DataDir).
	Data string
	// Account is the account (tenant) of the administrator's credential.
	Account string
	// Build returns the server's handler over cfg, and a function that
	// releases what it started.
	Build func(ctx context.Context, cfg *Config) (http.Handler, func(), error)
}

// Config is what a server's handler is built on.
type Config struct {
	Store       store.Editor
	Credentials *Credentials
	// MaxTenants bounds the policies followed; Main sets it to the number
	// of accounts the credentials name.
	MaxTenants int
}

// Main is a seed server's main function. It reads -listen, -dir,
// -postgres and -credentials, the administrator's credential from
// $IPGATE_API_TOKEN (it refuses to start without one), opens the store,
// builds the handler and serves it with NewHTTPServer until the process
// ends.
func Main(s Server) {
	addr := flag.String("listen", s.Addr, "address to listen on")
	dir := flag.String("dir", "", "directory of the file store (default "+DataDir(s.Data)+")")
	pg := flag.String("postgres", "-", "use PostgreSQL with this DSN ('' for $IPGATE_POSTGRES_DSN, else "+localDSN+")")
	file := flag.String("credentials", "", "file of more credentials, one per line: TOKEN admin|user ACCOUNT")
	flag.Parse()
	log.SetFlags(0)
	creds, err := loadCredentials(os.Getenv(tokenEnv), s.Account, *file)
	if err != nil {
		log.Fatalf("%s: %v", s.Title, err)
	}
	ctx := context.Background()
	if *dir == "" {
		*dir = DataDir(s.Data)
	}
	st, closeStore, err := openStore(ctx, *dir, *pg)
	if err != nil {
		log.Fatalf("%s: %v", s.Title, err)
	}
	defer closeStore()
	h, closeServer, err := s.Build(ctx, &Config{Store: st, Credentials: creds, MaxTenants: len(creds.Accounts())})
	if err != nil {
		log.Fatalf("%s: %v", s.Title, err)
	}
	defer closeServer()
	srv := NewHTTPServer(h, nil)
	srv.Addr = *addr
	where := *dir
	if *pg != "-" {
		where = "PostgreSQL"
	}
	log.Printf("%s on http://%s (data in %s)", s.Title, *addr, where)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Print(err)
	}
}

// DataDir returns the default data directory of a server: name under
// ipgate in the user's cache directory, or in the temporary directory
// when there is none, so that running a server leaves nothing in the work
// tree.
func DataDir(name string) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "ipgate", name)
}

func openStore(ctx context.Context, dir, dsn string) (st store.Editor, close func(), err error) {
	if dsn != "-" {
		if dsn == "" {
			dsn = os.Getenv("IPGATE_POSTGRES_DSN")
		}
		if dsn == "" {
			dsn = localDSN
		}
		return postgres.Open(ctx, &postgres.Options{DSN: dsn})
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	s, err := filestore.Open(dir, nil)
	if err != nil {
		return nil, nil, err
	}
	return s, func() {}, nil
}

// Timeouts bound the phases of a connection; a zero field means its
// default.
type Timeouts struct {
	// ReadHeader bounds reading a request's header (default 5 s): a
	// client that sends half a header is cut off.
	ReadHeader time.Duration
	// Read bounds reading a whole request (default 30 s).
	Read time.Duration
	// Write bounds writing a response (default 30 s).
	Write time.Duration
	// Idle bounds a kept-alive connection between requests (default 2 min).
	Idle time.Duration
}

// NewHTTPServer returns the http.Server a seed server runs: h with every
// timeout set (nil t means the defaults) and headers bounded to 64 KiB.
func NewHTTPServer(h http.Handler, t *Timeouts) *http.Server {
	var d Timeouts
	if t != nil {
		d = *t
	}
	or := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: or(d.ReadHeader, 5*time.Second),
		ReadTimeout:       or(d.Read, 30*time.Second),
		WriteTimeout:      or(d.Write, 30*time.Second),
		IdleTimeout:       or(d.Idle, 2*time.Minute),
		MaxHeaderBytes:    64 << 10,
	}
}

// errNoToken is why a server does not start without a credential.
var errNoToken = fmt.Errorf("$%s is not set: set it to the administrator's API token, e.g. %s=$(openssl rand -hex 16)", tokenEnv, tokenEnv)
