package check_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// vector is one conformance case of ../shared/vectors/README.md.
type vector struct {
	now          time.Time
	policy       json.RawMessage
	checks       []vectorCheck
	compileError []string
	badTargets   []string
	goodTargets  [][2]string
	badQueries   []string
	has          map[string]bool
}

type vectorCheck struct {
	ip             string
	at             time.Time
	admin, mobile  bool
	allowed        bool
	rule, reason   string
	hasRule, hasAt bool
	hasReason      bool
}

// TestConformance runs every vector in testdata/vectors and in the folder
// named by $IPGATE_VECTORS.
func TestConformance(t *testing.T) {
	files, err := filepath.Glob("testdata/vectors/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in testdata/vectors: %v", err)
	}
	if dir := os.Getenv("IPGATE_VECTORS"); dir != "" {
		more, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(more) == 0 {
			t.Fatalf("IPGATE_VECTORS=%s holds no *.json files: %v", dir, err)
		}
		files = append(files, more...)
	}
	total := 0
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		n, problems := runVector(data)
		for _, p := range problems {
			t.Errorf("%s: %s", name, p)
		}
		total += n
	}
	fmt.Printf("vectors: %d files, %d checks\n", len(files), total)
}

// TestConformanceCatchesWrongExpectations flips each expectation of the
// shared vectors in turn and requires the runner to report it.
func TestConformanceCatchesWrongExpectations(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/vectors/*.json")
	mutations := 0
	for _, name := range files {
		data, _ := os.ReadFile(name)
		for _, from := range []string{`"allowed": true`, `"allowed": false`, `"rule": "`, `"reason": "rule"`, `"reason": "default"`} {
			to := map[string]string{`"allowed": true`: `"allowed": false`, `"allowed": false`: `"allowed": true`,
				`"rule": "`: `"rule": "x`, `"reason": "rule"`: `"reason": "default"`, `"reason": "default"`: `"reason": "rule"`}[from]
			for i := 0; ; i++ {
				mutated, ok := replaceNth(string(data), from, to, i)
				if !ok {
					break
				}
				mutations++
				if _, problems := runVector([]byte(mutated)); len(problems) == 0 {
					t.Errorf("%s: replacing occurrence %d of %s with %s went unnoticed", name, i, from, to)
				}
			}
		}
	}
	if mutations < 20 {
		t.Errorf("only %d mutations tried", mutations)
	}
	for _, bad := range []string{
		`{"now": "2026-01-01T00:00:00Z", "Description": "x"}`,
		`{"now": "2026-01-01T00:00:00Z", "now": "2026-01-01T00:00:00Z"}`,
		`{"now": "2026-01-01T00:00:00Z", "policy": {}, "checks": [{"ip": "1.2.3.4"}]}`,
		`{"now": "2026-01-01T00:00:00Z", "policy": {}, "checks": [{"ip": "1.2.3.4", "allowed": "yes"}]}`,
		`{"now": "2026-01-01T00:00:00Z", "goodTargets": {"10.0.0.1": "10.0.0.1", "10.0.0.1": "10.0.0.2"}}`,
		`{"now": "2026-01-01T00:00:00Z", "policy": {"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow"}]}, "compileError": ["a"]}`,
	} {
		if _, problems := runVector([]byte(bad)); len(problems) == 0 {
			t.Errorf("vector %s was accepted", bad)
		}
	}
}

func replaceNth(s, old, new string, n int) (string, bool) {
	at := 0
	for i := 0; i <= n; i++ {
		j := strings.Index(s[at:], old)
		if j < 0 {
			return "", false
		}
		at += j
		if i < n {
			at += len(old)
		}
	}
	return s[:at] + new + s[at+len(old):], true
}

// runVector checks one vector file and returns how many checks it made and
// what went wrong.
func runVector(data []byte) (n int, problems []string) {
	v, err := decodeVector(data)
	if err != nil {
		return 0, []string{err.Error()}
	}
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, s := range v.badTargets {
		n++
		if r, err := rangeset.ParseRange(s); err == nil {
			fail("badTargets: ParseRange(%q) = %v, want error", s, r)
		}
	}
	for _, kv := range v.goodTargets {
		n++
		if r, err := rangeset.ParseRange(kv[0]); err != nil || r.String() != kv[1] {
			fail("goodTargets: ParseRange(%q) = %v, %v, want %s", kv[0], r, err, kv[1])
		}
	}
	for _, s := range v.badQueries {
		n++
		if a, err := rangeset.ParseAddr(s); err == nil {
			fail("badQueries: ParseAddr(%q) = %v, want error", s, a)
		}
	}
	if !v.has["policy"] {
		return n, problems
	}
	p, err := policy.Decode(v.policy)
	if err == nil && v.has["compileError"] {
		_, err = check.Compile(p, v.now)
	}
	if v.has["compileError"] {
		n++
		if err == nil {
			fail("compileError: policy compiled, want an error naming %q", v.compileError)
		}
		named := ruleIDs(err)
		for _, id := range v.compileError {
			if !named[id] {
				fail("compileError: error %q does not name rule %q", err, id)
			}
		}
		return n, problems
	}
	if err != nil {
		return n, append(problems, "policy: "+err.Error())
	}

	// Both kinds of lookup table: the bart.Fast of small policies and the
	// bart.Table of large ones.
	n += len(v.checks)
	for _, large := range []bool{false, true} {
		kind := "bart.Fast"
		clock := newFakeClock(v.now)
		opts := clock.options()
		if large {
			kind, opts = "bart.Table", check.LargeTables(opts)
		}
		// Every check at its instant, in file order, on a checker that stays
		// at the compile instant: exact through the re-ranking path.
		c, err := check.NewChecker(p, opts)
		if err != nil {
			return n, append(problems, "NewChecker: "+err.Error())
		}
		defer c.Close()
		for i, vc := range v.checks {
			if msg := compare(c, vc, vc.at); msg != "" {
				fail("%s: check %d (explicit at): %s", kind, i, msg)
			}
		}
		// Then in time order with the clock moved to each check's instant, on
		// the live path: a zero At, answered by whatever snapshot the timer
		// swapped in.
		order := slices.Clone(v.checks)
		sort.SliceStable(order, func(i, j int) bool { return order[i].at.Before(order[j].at) })
		for i, vc := range order {
			clock.Set(vc.at)
			if msg := compare(c, vc, time.Time{}); msg != "" {
				fail("%s: check %d in time order (clock at %s): %s", kind, i, vc.at.Format(time.RFC3339), msg)
			}
		}
	}
	return n, problems
}

func compare(c *check.Checker, vc vectorCheck, at time.Time) string {
	addr, err := rangeset.ParseAddr(vc.ip)
	if err != nil {
		return err.Error()
	}
	got := c.Check(check.Request{Addr: addr, Admin: vc.admin, Mobile: vc.mobile, At: at})
	if got.Allowed != vc.allowed || vc.hasRule && got.Rule != vc.rule || vc.hasReason && got.Reason.String() != vc.reason {
		want := fmt.Sprintf("allowed=%v", vc.allowed)
		if vc.hasRule {
			want += fmt.Sprintf(" rule=%q", vc.rule)
		}
		if vc.hasReason {
			want += " reason=" + vc.reason
		}
		return fmt.Sprintf("ip %s admin=%v mobile=%v at %s: got allowed=%v rule=%q reason=%v, want %s",
			vc.ip, vc.admin, vc.mobile, vc.at.Format(time.RFC3339Nano), got.Allowed, got.Rule, got.Reason, want)
	}
	return ""
}

// ruleIDs returns the ids of every *policy.RuleError in err's tree.
func ruleIDs(err error) map[string]bool {
	ids := map[string]bool{}
	var walk func(error)
	walk = func(err error) {
		var re *policy.RuleError
		if errors.As(err, &re) {
			ids[re.ID] = true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return ids
}

// decodeVector decodes a vector strictly: unknown or case-variant keys,
// duplicate keys, nulls and wrong types are errors.
func decodeVector(data []byte) (vector, error) {
	r := &strictReader{dec: json.NewDecoder(bytes.NewReader(data))}
	v := vector{has: map[string]bool{}}
	var nowText string
	r.object("", func(key string) {
		v.has[key] = true
		switch key {
		case "description":
			r.str(key)
		case "now":
			nowText = r.str(key)
		case "policy":
			if err := r.dec.Decode(&v.policy); err != nil {
				r.fail(key, err.Error())
			}
		case "checks":
			r.array(key, func() {
				var c vectorCheck
				seen := map[string]bool{}
				r.object("checks[]", func(key string) {
					seen[key] = true
					switch key {
					case "ip":
						c.ip = r.str(key)
					case "at":
						c.at, c.hasAt = r.instant(key), true
					case "admin":
						c.admin = r.boolean(key)
					case "mobile":
						c.mobile = r.boolean(key)
					case "allowed":
						c.allowed = r.boolean(key)
					case "rule":
						c.rule, c.hasRule = r.str(key), true
					case "reason":
						c.reason, c.hasReason = r.str(key), true
					default:
						r.fail(key, "unknown key")
					}
				})
				if !seen["ip"] || !seen["allowed"] {
					r.fail("checks[]", "ip and allowed are required")
				}
				v.checks = append(v.checks, c)
			})
		case "compileError":
			r.array(key, func() { v.compileError = append(v.compileError, r.str(key)) })
		case "badTargets":
			r.array(key, func() { v.badTargets = append(v.badTargets, r.str(key)) })
		case "badQueries":
			r.array(key, func() { v.badQueries = append(v.badQueries, r.str(key)) })
		case "goodTargets":
			r.object(key, func(in string) { v.goodTargets = append(v.goodTargets, [2]string{in, r.str(in)}) })
		default:
			r.fail(key, "unknown key")
		}
	})
	if _, err := r.dec.Token(); r.err == nil && err != io.EOF {
		r.fail("", "data after the vector")
	}
	if r.err != nil {
		return v, r.err
	}
	if nowText == "" && !v.has["policy"] {
		return v, nil // a parser-only vector needs no instant
	}
	if v.now, r.err = time.Parse(time.RFC3339Nano, nowText); r.err != nil {
		return v, fmt.Errorf("now: %w", r.err)
	}
	if v.has["checks"] && v.has["compileError"] || v.has["checks"] != v.has["policy"] && !v.has["compileError"] {
		return v, errors.New("a vector has a policy with either checks or compileError")
	}
	for i := range v.checks {
		if !v.checks[i].hasAt {
			v.checks[i].at = v.now
		} else if v.checks[i].at.Before(v.now) {
			return v, fmt.Errorf("checks[%d].at is before now", i)
		}
	}
	return v, nil
}

// strictReader walks JSON tokens, keeping the first error.
type strictReader struct {
	dec *json.Decoder
	err error
}

func (r *strictReader) fail(key, msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %s", key, msg)
	}
}

func (r *strictReader) token(key string) json.Token {
	if r.err != nil {
		return nil
	}
	tok, err := r.dec.Token()
	if err != nil {
		r.fail(key, err.Error())
		return nil
	}
	if tok == nil {
		r.fail(key, "null")
	}
	return tok
}

func (r *strictReader) object(key string, field func(key string)) {
	if tok := r.token(key); tok != json.Delim('{') {
		r.fail(key, fmt.Sprintf("want an object, got %v", tok))
		return
	}
	seen := map[string]bool{}
	for r.err == nil && r.dec.More() {
		k, _ := r.token(key).(string)
		if seen[k] {
			r.fail(k, "duplicate key")
		}
		seen[k] = true
		field(k)
	}
	r.token(key)
}

func (r *strictReader) array(key string, elem func()) {
	if tok := r.token(key); tok != json.Delim('[') {
		r.fail(key, fmt.Sprintf("want an array, got %v", tok))
		return
	}
	for r.err == nil && r.dec.More() {
		elem()
	}
	r.token(key)
}

func (r *strictReader) str(key string) string {
	tok := r.token(key)
	s, ok := tok.(string)
	if !ok {
		r.fail(key, fmt.Sprintf("want a string, got %v", tok))
	}
	return s
}

func (r *strictReader) boolean(key string) bool {
	tok := r.token(key)
	b, ok := tok.(bool)
	if !ok {
		r.fail(key, fmt.Sprintf("want true or false, got %v", tok))
	}
	return b
}

func (r *strictReader) instant(key string) time.Time {
	s := r.str(key)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && r.err == nil {
		r.fail(key, err.Error())
	}
	return t
}
