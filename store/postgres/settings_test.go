package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
)

// TestPrecedenceText checks that Settings.DenyOverrides is stored as the
// document's text of the precedence, in the policy's row and in the feed's
// settings change, and read back as the bool.
func TestPrecedenceText(t *testing.T) {
	s := openStore(t, nil)
	schema := lastSchema()
	conn, err := pgx.Connect(context.Background(), dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, _, err := s.CreateRule(t.Context(), "p", rule("a", "10.0.0.1", policy.Deny), store.Any); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		deny bool
		text string
	}{{true, "denyOverrides"}, {false, "mostSpecific"}, {true, "denyOverrides"}} {
		st := policy.DefaultSettings()
		st.DenyOverrides = tt.deny
		rev, err := s.SetSettings(t.Context(), "p", st, store.Any)
		if err != nil {
			t.Fatal(err)
		}
		var row string
		if err := conn.QueryRow(t.Context(), fmt.Sprintf(`SELECT precedence FROM %s.policies WHERE name = 'p'`, schema)).Scan(&row); err != nil {
			t.Fatal(err)
		}
		if row != tt.text {
			t.Errorf("DenyOverrides %v stored as precedence %q, want %q", tt.deny, row, tt.text)
		}
		var change string
		err = conn.QueryRow(t.Context(), fmt.Sprintf(`SELECT precedence FROM %s.changes WHERE policy = 'p' AND revision = $1 AND kind = 'settings'`, schema), rev).Scan(&change)
		if err != nil || change != tt.text {
			t.Errorf("DenyOverrides %v in the feed as precedence %q, %v, want %q", tt.deny, change, err, tt.text)
		}
		p, _, err := s.Load(t.Context(), "p")
		if err != nil || p.Settings != st {
			t.Errorf("Load = %+v, %v, want settings %+v", p.Settings, err, st)
		}
		ch, _, err := s.Changes(t.Context(), "p", rev-1)
		if err != nil || len(ch) != 1 || ch[0].Settings == nil || *ch[0].Settings != st {
			t.Errorf("Changes(%d) = %+v, %v, want the settings %+v", rev-1, ch, err, st)
		}
	}
}
