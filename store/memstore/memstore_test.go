package memstore_test

import (
	"testing"
	"time"

	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
	"github.com/ipgate/ipgate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Editor {
		return memstore.New(&memstore.Options{Now: now})
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, 100_000, func(*testing.B) store.Editor { return memstore.New(nil) })
}
