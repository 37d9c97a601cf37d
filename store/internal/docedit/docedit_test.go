package docedit_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/filestore"
	"github.com/ipgate/ipgate/store/internal/docedit"
	"github.com/ipgate/ipgate/store/memstore"
)

func TestDocEditorRevisionsGrow(t *testing.T) {
	ctx := t.Context()
	b := newMapBackend()
	e := docedit.New(b, nil)
	r := policy.Rule{ID: "a", Target: rangeset.MustParseRange("10.0.0.1"), Action: policy.Allow}
	if _, rev, err := e.CreateRule(ctx, "p", r, store.Any); err != nil || rev != 1 {
		t.Fatalf("CreateRule = %d, %v", rev, err)
	}
	if _, err := e.SetSettings(ctx, "p", policy.DefaultSettings(), store.Any); err != nil {
		t.Fatal(err)
	}
	b.forget = true // the next commit reuses revision 1
	r.ID = "ban"
	r.Action = policy.Deny
	_, rev, err := e.CreateRule(ctx, "p", r, store.Any)
	if err == nil || !strings.Contains(err.Error(), "revisions must grow") {
		t.Errorf("a commit at revision %d after 2 = %v; want an error", rev, err)
	}
}

// TestDocEditorOptions checks the clock and the guard of NewDocEditor, and
// that nil options are the defaults.
func TestDocEditorOptions(t *testing.T) {
	ctx := t.Context()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	refuse := errors.New("no")
	e := docedit.New(newMapBackend(), &docedit.Options{
		Now: func() time.Time { return at },
		Guard: func(old, new policy.Policy) error {
			if len(new.Rules) > 1 {
				return refuse
			}
			return nil
		},
	})
	r := policy.Rule{ID: "a", Target: rangeset.MustParseRange("10.0.0.1"), Action: policy.Allow}
	got, _, err := e.CreateRule(ctx, "p", r, store.Any)
	if err != nil || !got.CreatedAt.Equal(at) {
		t.Errorf("CreateRule = %+v, %v; want CreatedAt %v", got, err, at)
	}
	r.ID = "b"
	if _, _, err := e.CreateRule(ctx, "p", r, store.Any); !errors.Is(err, store.ErrRefused) || !errors.Is(err, refuse) {
		t.Errorf("a guarded CreateRule = %v, want the guard's refusal", err)
	}
	d := docedit.New(newMapBackend(), nil)
	before := time.Now()
	if got, _, err := d.CreateRule(ctx, "p", r, store.Any); err != nil || got.CreatedAt.Before(before) {
		t.Errorf("CreateRule with nil options = %+v, %v; want CreatedAt from time.Now", got, err)
	}
}

// TestNoExportedFields pins that the stores expose no field a caller could
// change under a live store: neither their own nor the editor's. The
// PostgreSQL store, which needs a server to open, is checked by its own
// package's tests.
func TestNoExportedFields(t *testing.T) {
	fs, err := filestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[docedit.Editor](),
		reflect.TypeOf(memstore.New(nil)).Elem(),
		reflect.TypeOf(fs).Elem(),
	} {
		for i := range typ.NumField() {
			if f := typ.Field(i); f.IsExported() {
				t.Errorf("%v exports field %s", typ, f.Name)
			}
		}
	}
}
