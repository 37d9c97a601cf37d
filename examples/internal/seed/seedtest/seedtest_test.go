package seedtest

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	parse := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := `{"count": 1, "result": [{"allowed": "true", "created": "2015-02-01 20:10:15"}]}`
	vary := []string{"result.[].created"}
	for _, tc := range []struct{ got, diff string }{
		{`{"count": 1, "result": [{"allowed": "true", "created": "2026-12-01 21:00:00"}]}`, ""},
		{`{"count": 1, "result": [{"allowed": true, "created": "2026-12-01 21:00:00"}]}`, "result.[].allowed is boolean true, want string true"},
		{`{"count": 1, "result": [{"allowed": "false", "created": "x"}]}`, "result.[].allowed = false, want true"},
		{`{"count": 1, "result": [{"allowed": "true", "created": "x", "description": ""}]}`, `has field "description", which the documentation does not`},
		{`{"count": 1, "result": [{"allowed": "true"}]}`, `lacks field "created"`},
		{`{"count": 1, "result": []}`, "result has 0 elements, want 1"},
		{`{"count": "1", "result": [{"allowed": "true", "created": "x"}]}`, "count is string 1, want number 1"},
		{`[]`, "the body is array [], want object"},
	} {
		diffs := strings.Join(Compare(parse(want), parse(tc.got), vary), "; ")
		if tc.diff == "" && diffs != "" || !strings.Contains(diffs, tc.diff) {
			t.Errorf("Compare(%s) = %q, want %q", tc.got, diffs, tc.diff)
		}
	}
}
