package policy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// FuzzDecodePolicy checks that the strict decoder never panics and that an
// accepted document encodes to a document that decodes to an equal policy,
// whose encoding is a fixed point. It is seeded with the policies of the
// conformance vectors.
func FuzzDecodePolicy(f *testing.F) {
	files, _ := filepath.Glob("../check/testdata/vectors/*.json")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		var v struct{ Policy json.RawMessage }
		if json.Unmarshal(data, &v) == nil && v.Policy != nil {
			f.Add([]byte(v.Policy))
		}
	}
	f.Add([]byte(`{"rules":[{"id":"a","ip":"10.0.0.1","action":"allow","ttl":0,"updatedAt":"2026-01-01T00:00:00+01:00"}]}`))
	// Offsets at the edge of RFC 3339's (time.Parse takes 24:00 too).
	f.Add([]byte(`{"rules":[{"id":"a","ip":"10.0.0.1","action":"allow","expiresAt":"2030-01-01T00:00:00+23:59"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.Decode(data)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Decode accepted a policy that does not validate: %v", err)
		}
		enc, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal(Decode(%q)) = %v", data, err)
		}
		back, err := policy.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(%s) = %v", enc, err)
		}
		if diff := cmp.Diff(p, back, cmpopts.EquateComparable(rangeset.Range{})); diff != "" {
			t.Fatalf("decode(encode(p)) mismatch (-want +got):\n%s", diff)
		}
		again, _ := json.Marshal(back)
		if !bytes.Equal(enc, again) {
			t.Fatalf("encoding is not a fixed point:\n%s\n%s", enc, again)
		}
		var doc bytes.Buffer
		indented, _ := json.MarshalIndent(p, "", "  ")
		if _, err := p.WriteTo(&doc); err != nil || !bytes.Equal(doc.Bytes(), append(indented, '\n')) {
			t.Fatalf("WriteTo = %v, wrote\n%s\nwant\n%s", err, doc.Bytes(), indented)
		}
	})
}
