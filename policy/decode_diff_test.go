package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ipgate/ipgate/rangeset"
)

// diffSeeds are documents that reach every branch of both decoders.
var diffSeeds = []string{
	`{}`, ``, ` `, `null`, `nul`, `[]`, `"x"`, `1`, `true`, `{"enabled":true}{}`, `{"enabled":true} x`,
	`{"enabled": true, "defaultAction": "deny", "precedence": "denyOverrides", "applyToMobile": false, "rules": []}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.0/8", "action": "allow"}, {"id": "b", "from": "10.1.0.1", "to": "10.1.0.9", "action": "deny", "adminOnly": true, "createdAt": "2025-12-31T00:00:00Z", "ttl": 86400, "comment": "c", "updatedAt": null}]}`,
	`{"rules": [{"id": "a\u0000\ud800\udc00\ud800x\u00e9\"\\\/\b\f\n\r\t", "ip": " 10.0.0.1 ", "action": "allow", "comment": "\xff\xfe<>&\u2028"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "id": "b"}]}`,
	`{"rules": [{"Action": "allow", "id": "b", "ip": "10.0.0.1"}]}`,
	`{"rules": [{"x": {"y": [1, {"id": "q"}]}, "id": "b", "ip": "10.0.0.1", "action": "allow"}]}`,
	`{"rules": [{"adminOnly": [1, 2], "id": "b", "ip": "10.0.0.1", "action": "allow"}], "enabled": true}`,
	`{"rules": [{"adminOnly": [1, 2}, "id": "b"}]}`,
	`{"rules": [{"id": 5, "id": "c", "x": 1}]}`,
	`{"rules": [{"x": 1, "id": "c", "id": null}]}`,
	`{"rules": [{"x": 1, "id": "c"}, 5, {"id": 1}]}`,
	`{"rules": [{"x": 1, "id": "c"}]} x`,
	`{"rules": [null]}`, `{"rules": [5]}`, `{"rules": ["x"]}`, `{"rules": [[]]}`, `{"rules": {}}`, `{"rules": null}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "ttl": 1.5, "createdAt": "2026-01-01T00:00:00Z"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "ttl": -9223372036854775808, "createdAt": "2026-01-01T00:00:00Z"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "ttl": 9223372036854775808, "createdAt": "2026-01-01T00:00:00Z"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "ttl": 1e3, "createdAt": "2026-01-01T00:00:00Z"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "ttl": 01}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "ttl": -}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "createdAt": ""}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": ""}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "2026-01-01T00:00:00+01:00"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "0001-01-01T00:00:00Z"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "0000-12-31T23:00:00-01:00"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "ttl": 60, "createdAt": "0001-01-01T00:00:00Z"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "ttl": 60, "createdAt": "0001-01-01T00:00:01Z"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "ttl": 60, "updatedAt": "0001-01-01T00:00:00Z", "createdAt": "2026-01-01T00:00:00Z"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "createdAt": "0001-01-01T00:00:00Z"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "9999-12-31T23:59:59.5Z"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "2026-01-01T00:00:00Z", "ttl": 5}]}`,
	`{"rules": [{"id": "", "ip": "10.0.0.5/24", "action": "permit"}, {"id": "", "action": "allow"}, {"ip": "1.1.1.1", "from": "x"}]}`,
	`{"rules": [{"id": "a", "from": "10.0.0.1", "action": "allow"}, {"id": "a", "to": "10.0.0.1", "from": "::1", "action": "deny"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow",}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow"},]}`,
	`{"rules": [{"id": "a" "ip": "10.0.0.1"}]}`,
	`{"rules": [{"id": "a", "ip": "10.0.0.1\x01"}]}`,
	`{"rules": [{"id": "a\u12"}]}`, `{"rules": [{"id": "a\x"}]}`, `{"rules": [{"id": "a\`,
	`{"Enabled": true}`, `{"enabled": true, "enabled": false}`, `{"enabled": null}`, `{"enabled": "true"}`, `{"enabled": tru}`,
	`{"defaultAction": "Deny"}`, `{"precedence": "first"}`, `{"precedence": 5}`, `{"x\ny": 1}`, `{"": 1}`, `{1: 2}`, `{"a"}`,
	` {"enabled" : false } `, "{\"enabled\":\ttrue\r\n}",
}

// decodeBoth runs the old and the new decoders, and the new one over a
// reader that returns a byte at a time, and fails on any disagreement
// other than the deliberate ones: a zero-instant expiry is refused, and
// malformed JSON is described in other words.
func decodeBoth(t *testing.T, data []byte) {
	t.Helper()
	want, werr := oldDecode(data)
	got, gerr := Decode(data)
	var r io.Reader = iotest.OneByteReader(bytes.NewReader(data))
	if len(data) > 1<<16 {
		r = &chunkReader{data: data, rng: rand.New(rand.NewPCG(uint64(len(data)), 1))}
	}
	streamed, serr := DecodeReader(r)
	if !reflect.DeepEqual(got, streamed) || errText(gerr) != errText(serr) {
		t.Fatalf("Decode(%q) = %v, %v\nDecodeReader = %v, %v", data, got, gerr, streamed, serr)
	}
	// A reader that can seek is counted first, from where it is.
	sr := bytes.NewReader(append([]byte("{{"), data...))
	_, _ = sr.Seek(2, io.SeekStart)
	if streamed, serr := DecodeReader(sr); !reflect.DeepEqual(got, streamed) || errText(gerr) != errText(serr) {
		t.Fatalf("Decode(%q) = %v, %v\nDecodeReader(a seeker) = %v, %v", data, got, gerr, streamed, serr)
	}
	switch {
	case werr == nil && gerr != nil:
		if !errors.Is(gerr, errZeroInstant) {
			t.Fatalf("Decode(%q) = %v, the old decoder accepted it", data, gerr)
		}
		return
	case werr != nil && gerr == nil:
		t.Fatalf("Decode(%q) accepted what the old decoder refused with %v", data, werr)
	case werr != nil:
		if errors.Is(gerr, errZeroInstant) {
			return // where the old decoder said errTTLNoBase
		}
		if errors.Is(werr, errSyntax) || errors.Is(gerr, errSyntax) {
			if !errors.Is(werr, errSyntax) || !errors.Is(gerr, errSyntax) || ruleName(werr) != ruleName(gerr) {
				t.Fatalf("Decode(%q):\n got %v\nwant %v", data, gerr, werr)
			}
			return
		}
		want := werr.Error()
		if lines := strings.Split(want, "\n"); len(lines) > maxProblems {
			more := "and " + strconv.Itoa(len(lines)-maxProblems) + " more problems"
			if len(lines) == maxProblems+1 {
				more = "and 1 more problem"
			}
			want = strings.Join(lines[:maxProblems], "\n") + "\n" + more
		}
		if gerr.Error() != want {
			t.Fatalf("Decode(%.200q):\n got %.2000v\nwant %.2000v", data, gerr, want)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q) = %+v, want %+v", data, got, want)
	}
	enc, err := got.MarshalJSON()
	old, oerr := json.Marshal(oldPolicy(want))
	if (err == nil) != (oerr == nil) || !bytes.Equal(enc, old) {
		t.Fatalf("MarshalJSON(Decode(%q)) = %s, %v, want %s, %v", data, enc, err, old, oerr)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// ruleName returns the "rule ..." prefix of err's text, if any.
func ruleName(err error) string {
	var re *RuleError
	if errors.As(err, &re) {
		return re.ID
	}
	return ""
}

func TestDecodeDifferential(t *testing.T) {
	t.Parallel()
	docs := diffSeeds
	files, _ := filepath.Glob("../check/testdata/vectors/*.json")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Policy json.RawMessage }
		if json.Unmarshal(data, &v) == nil && v.Policy != nil {
			docs = append(docs, string(v.Policy))
		}
	}
	for _, doc := range docs {
		decodeBoth(t, []byte(doc))
	}
	if !testing.Short() {
		// A large document with duplicate ids, where the hashes are radix
		// sorted, and one with more than maxProblems problems.
		for _, bad := range []int{0, 7} {
			var sb strings.Builder
			sb.WriteString(`{"rules": [`)
			for i := range 70000 {
				if i > 0 {
					sb.WriteByte(',')
				}
				id := i
				if i%1000 == 999 {
					id = i / 7
				}
				action := "deny"
				if bad > 0 && i%bad == 0 {
					action = "permit"
				}
				sb.WriteString(`{"id": "r` + strconv.Itoa(id) + `", "ip": "10.0.0.1", "action": "` + action + `"}`)
			}
			sb.WriteString(`]}`)
			decodeBoth(t, []byte(sb.String()))
		}
	}
	// Mutations of the seeds: cut, with a byte changed, inserted or
	// deleted, with two documents spliced.
	n := 20000
	if testing.Short() {
		n = 3000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "{}[]:,\"\\ \n0123456789-+.eEtruefalsn\x00\x1f\x7f\xff\xc3uU/"
	for range n {
		b := []byte(docs[rng.IntN(len(docs))])
		for range 1 + rng.IntN(3) {
			i := 0
			if len(b) > 0 {
				i = rng.IntN(len(b) + 1)
			}
			switch rng.IntN(5) {
			case 0:
				b = b[:i]
			case 1:
				if i < len(b) {
					b[i] = alphabet[rng.IntN(len(alphabet))]
				}
			case 2:
				b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
			case 3:
				if i < len(b) {
					b = append(b[:i], b[i+1:]...)
				}
			case 4:
				o := docs[rng.IntN(len(docs))]
				b = append(b[:i:i], o[rng.IntN(len(o)+1):]...)
			}
		}
		decodeBoth(t, b)
	}
}

// FuzzDecodeDifferential compares the decoder with the old one (see
// decodeBoth).
func FuzzDecodeDifferential(f *testing.F) {
	for _, s := range diffSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { decodeBoth(t, data) })
}

// chunkReader returns its data in chunks of random sizes.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), 1+r.rng.IntN(200))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func TestDecodeReaderLongTokens(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é\\n", 100000)
	doc := `{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "comment": "` + long + `"},` +
		`{"id": "b", "ip": "` + strings.Repeat(" ", 300000) + `10.0.0.2", "action": "deny", "ttl": ` + "1" + strings.Repeat("0", 9) + `, "createdAt": "2026-01-01T00:00:00Z"}]}`
	want, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeReader(&chunkReader{data: []byte(doc), rng: rand.New(rand.NewPCG(3, 4))})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeReader = %v, want what Decode gives", err)
	}
	if c := want.Rules[0].Comment; len(c) != 100000*3 || !strings.HasPrefix(c, "é\n") {
		t.Errorf("long comment decoded as %q...", c[:10])
	}
}

func TestDecodeReaderError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	full := `{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "x": 1}, {"id": "b"}]}`
	for cut := range len(full) + 1 {
		doc := full[:cut]
		_, err := DecodeReader(io.MultiReader(strings.NewReader(doc), iotest.ErrReader(boom)))
		if err != boom {
			t.Errorf("DecodeReader(%q then an error) = %v, want the reader's error as it is", doc, err)
		}
	}
}

// emptyReader returns no data and no error, forever.
type emptyReader struct{ reads int }

func (r *emptyReader) Read([]byte) (int, error) { r.reads++; return 0, nil }

// emptySeeker is a reader that can seek and returns no data and no error.
type emptySeeker struct {
	emptyReader
	io.Seeker
}

func TestDecodeReaderNoProgress(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"", `{"rules": [{"id": "a"`} {
		er := &emptyReader{}
		_, err := DecodeReader(io.MultiReader(strings.NewReader(doc), er))
		if err != io.ErrNoProgress || er.reads > 1000 {
			t.Errorf("DecodeReader(%q then empty reads) = %v after %d reads, want io.ErrNoProgress", doc, err, er.reads)
		}
	}
	// A reader that can seek is read first to count its rules.
	es := &emptySeeker{Seeker: strings.NewReader("")}
	done := make(chan error, 1)
	go func() { _, err := DecodeReader(es); done <- err }()
	select {
	case err := <-done:
		if err != io.ErrNoProgress || es.reads > 1000 {
			t.Errorf("DecodeReader(an empty seeker) = %v after %d reads, want io.ErrNoProgress", err, es.reads)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("DecodeReader(an empty seeker) does not return")
	}
}

// TestMarshalMatchesOld checks that the encoder writes, byte for byte, what
// encoding/json wrote through the old document struct, and fails where it
// failed.
func TestMarshalMatchesOld(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	texts := []string{"", "a", "office", "<b>&amp;</b>", "\u2028\u2029", "\xff\xfe", "tab\tnl\ncr\r\x00\x1f\x7f", `q"b\s/`, "é日本\U0001F600", "\b\f"}
	targets := []string{"10.0.0.1", "10.0.0.0/8", "10.0.0.1-10.0.0.9", "::", "::/0", "2001:db8::1-2001:db8::ff", "::fffe:0:0/95", "0.0.0.0/0"}
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("x", -5400), time.FixedZone("", 59), time.FixedZone("", 24*3600)}
	instant := func() time.Time {
		switch rng.IntN(4) {
		case 0:
			return time.Time{}
		case 1:
			return time.Date(1+rng.IntN(10001), 1, 1, 0, 0, 0, 0, time.UTC)
		}
		return time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
	}
	for range 3000 {
		var rules []Rule
		for range rng.IntN(4) {
			r := Rule{ID: texts[rng.IntN(len(texts))] + texts[rng.IntN(len(texts))], Action: Action(rng.IntN(4)),
				AdminOnly: rng.IntN(2) == 0, CreatedAt: instant(), UpdatedAt: instant(), ExpiresAt: instant(),
				Comment: texts[rng.IntN(len(texts))]}
			if rng.IntN(8) > 0 {
				r.Target = rangeset.MustParseRange(targets[rng.IntN(len(targets))])
			}
			if rng.IntN(2) == 0 {
				ttl := time.Duration(rng.Int64N(1<<34)-1<<33) * time.Second
				if rng.IntN(8) == 0 {
					ttl += time.Millisecond
				}
				r.TTL = &ttl
			}
			rules = append(rules, r)
			got, gerr := r.MarshalJSON()
			want, werr := json.Marshal(oldRule(r))
			if (gerr == nil) != (werr == nil) || !bytes.Equal(got, want) {
				t.Fatalf("Rule.MarshalJSON(%+v) = %s, %v\nwant %s, %v", r, got, gerr, want, werr)
			}
		}
		p := Policy{Settings: Settings{Enabled: rng.IntN(2) == 0, DefaultAction: DefaultAction(rng.IntN(4)),
			DenyOverrides: rng.IntN(2) == 0, ApplyToMobile: rng.IntN(2) == 0}, Rules: rules}
		got, gerr := p.MarshalJSON()
		want, werr := json.Marshal(oldPolicy(p))
		if (gerr == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("Policy.MarshalJSON(%+v) = %s, %v\nwant %s, %v", p, got, gerr, want, werr)
		}
		if gerr == nil {
			// What json.Marshal makes of it is the same, byte for byte.
			via, err := json.Marshal(p)
			if err != nil || !bytes.Equal(via, got) {
				t.Fatalf("json.Marshal(p) = %s, %v, want %s", via, err, got)
			}
		}
		checkWriteTo(t, p, gerr)
	}
}

// checkWriteTo checks that p.WriteTo writes what json.MarshalIndent(p,
// "", "  ") does, and a newline, and fails where MarshalJSON failed with
// marshalErr, with the same error.
func checkWriteTo(t *testing.T, p Policy, marshalErr error) {
	t.Helper()
	var buf bytes.Buffer
	n, err := p.WriteTo(&buf)
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	if marshalErr != nil {
		if err == nil || err.Error() != marshalErr.Error() {
			t.Fatalf("WriteTo(%+v) = %v, want MarshalJSON's error %v", p, err, marshalErr)
		}
		return
	}
	want, werr := json.MarshalIndent(p, "", "  ")
	if err != nil || werr != nil || !bytes.Equal(buf.Bytes(), append(want, '\n')) {
		t.Fatalf("WriteTo(%+v) = %v, wrote\n%s\nwant %v,\n%s", p, err, buf.Bytes(), werr, want)
	}
}

// TestValidateMatchesOld checks that Validate finds the problems the old
// one found, in the same order, on random policies with many duplicate
// and empty ids, large ones included (where the hashes are radix sorted).
func TestValidateMatchesOld(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 10))
	sizes := []int{0, 1, 2, 5, 50, 300, 70000}
	if testing.Short() {
		sizes = sizes[:6]
	}
	sentinels := []error{errEmptyID, errDuplicateID, errTarget, errAction, errTTLNoBase, errTTLAndExpiry, errTTL, errExpiryRange, errSettings}
	project := func(err error) []string {
		var out []string
		if err == nil {
			return nil
		}
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			s := "?"
			var re *RuleError
			if errors.As(e, &re) {
				s = strconv.Itoa(re.Index) + " " + re.ID
			}
			for _, sen := range sentinels {
				if errors.Is(e, sen) {
					s += " " + sen.Error()
				}
			}
			out = append(out, s)
		}
		return out
	}
	for _, n := range sizes {
		for range 20 {
			rules := make([]Rule, n)
			distinct := 1 + rng.IntN(2*n+1)
			for i := range rules {
				r := Rule{ID: "r" + strconv.Itoa(rng.IntN(distinct)), Target: rangeset.MustParseRange("10.0.0.1"), Action: Allow}
				switch rng.IntN(12) {
				case 0:
					r.ID = ""
				case 1:
					r.Target = rangeset.Range{}
				case 2:
					r.Action = Action(rng.IntN(4) * 3)
				case 3:
					ttl := time.Duration(rng.Int64N(3)-1) * time.Second
					r.TTL = &ttl
				}
				rules[i] = r
			}
			p := Policy{Settings: DefaultSettings(), Rules: rules}
			if rng.IntN(10) == 0 {
				p.Settings.DefaultAction = 0
			}
			// The first maxKept problems are in the error, however many
			// are listed in its text.
			got, want := project(p.Validate()), project(oldValidate(p, nil, nil))
			want = want[:min(len(want), maxKept)]
			if !slices.Equal(got, want) {
				t.Fatalf("%d rules: Validate problems\n%q\nwant\n%q", n, got, want)
			}
		}
	}
}

// BenchmarkMarshalOld encodes 100k rules the old way, through
// encoding/json, for comparison with BenchmarkMarshal.
func BenchmarkMarshalOld(b *testing.B) {
	rules := make([]Rule, 100000)
	for i := range rules {
		rules[i] = Rule{ID: "rule-" + strconv.Itoa(i), Target: rangeset.MustParseRange("10.0.0.0/8"), Action: Deny}
	}
	p := oldPolicy(Policy{Settings: DefaultSettings(), Rules: rules})
	b.Run("old", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Policy(p).MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
