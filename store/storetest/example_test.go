package storetest_test

import (
	"testing"
	"time"

	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
	"github.com/ipgate/ipgate/store/storetest"
)

// A store's own tests call Run with a constructor of empty stores, as
// memstore's do:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) store.Editor {
//			return memstore.New(&memstore.Options{Now: now})
//		})
//	}
func ExampleRun() {
	testStore := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, now func() time.Time) store.Editor {
			return memstore.New(&memstore.Options{Now: now})
		})
	}
	_ = testStore
}
