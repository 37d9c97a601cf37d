package seed

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/ipgate/ipgate/store"
)

// Main is a seed server's main function: it reads -listen, -dir and
// -postgres, opens the store, builds the server's handler with build and
// serves it until the process ends.
func Main(title, listen, dir string, build func(context.Context, store.Editor) (http.Handler, func(), error)) {
	addr := flag.String("listen", listen, "address to listen on")
	stores := Register(flag.CommandLine, dir)
	flag.Parse()
	ctx := context.Background()
	st, closeStore, err := stores.Open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer closeStore()
	h, closeServer, err := build(ctx, st)
	if err != nil {
		log.Fatal(err)
	}
	defer closeServer()
	log.Printf("%s on %s", title, *addr)
	log.Fatal(http.ListenAndServe(*addr, h))
}
