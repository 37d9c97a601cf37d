package postgres

import (
	"reflect"
	"testing"
)

// TestNoExportedFields pins that the store exposes no field a caller could
// change under a live store, as store/internal/docedit's test of the same
// name does for the other stores and the editor.
func TestNoExportedFields(t *testing.T) {
	typ := reflect.TypeFor[pgStore]()
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() {
			t.Errorf("%v exports field %s", typ, f.Name)
		}
	}
}
