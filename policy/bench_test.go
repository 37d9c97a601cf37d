package policy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// plainRule and plainDoc are the document in plain structs, for the time
// encoding/json takes to decode it without any checking.
type plainRule struct {
	ID        string `json:"id"`
	IP        string `json:"ip"`
	From      string `json:"from"`
	To        string `json:"to"`
	Action    string `json:"action"`
	AdminOnly bool   `json:"adminOnly"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
	TTL       *int64 `json:"ttl"`
	ExpiresAt string `json:"expiresAt"`
	Comment   string `json:"comment"`
}

type plainDoc struct {
	Enabled       *bool       `json:"enabled"`
	DefaultAction string      `json:"defaultAction"`
	Precedence    string      `json:"precedence"`
	ApplyToMobile *bool       `json:"applyToMobile"`
	Rules         []plainRule `json:"rules"`
}

var benchDocs sync.Map // rule count → []byte

// benchDoc returns a document of n rules: IPv4 prefixes and hosts and IPv6
// prefixes, half allow and half deny, one in ten with a TTL and a
// timestamp, one in ten with a comment.
func benchDoc(n int) []byte {
	if d, ok := benchDocs.Load(n); ok {
		return d.([]byte)
	}
	rng := rand.New(rand.NewPCG(uint64(n), 17))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rules := make([]policy.Rule, n)
	for i := range rules {
		var p netip.Prefix
		switch i % 4 {
		case 0, 1:
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}), 8+rng.IntN(17))
		case 2:
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}), 32)
		default:
			var b [16]byte
			b[0], b[1] = 0x20, 0x01
			for j := 2; j < 8; j++ {
				b[j] = byte(rng.Uint32())
			}
			p = netip.PrefixFrom(netip.AddrFrom16(b), 32+rng.IntN(33))
		}
		r := policy.Rule{ID: "rule-" + strconv.Itoa(i), Target: rangeset.PrefixRange(p), Action: policy.Allow}
		if rng.IntN(2) == 0 {
			r.Action = policy.Deny
		}
		switch i % 10 {
		case 0:
			ttl := time.Duration(3600+rng.IntN(86400)) * time.Second
			r.CreatedAt, r.TTL = t0.Add(time.Duration(rng.IntN(1e6))*time.Second), &ttl
		case 1:
			r.Comment = "imported from the office list"
		}
		rules[i] = r
	}
	doc, err := policy.New(rules...).MarshalJSON()
	if err != nil {
		panic(err)
	}
	benchDocs.Store(n, doc)
	return doc
}

// BenchmarkDecode decodes documents of 1k, 100k and 1M rules with Decode,
// DecodeReader (from a stream) and, for the ratio, encoding/json into plain structs.
func BenchmarkDecode(b *testing.B) {
	for _, n := range []int{1000, 100000, 1000000} {
		var doc []byte
		name := strconv.Itoa(n/1000) + "k"
		if n >= 1000000 {
			name = strconv.Itoa(n/1000000) + "M"
		}
		b.Run(name+"/Decode", func(b *testing.B) {
			doc = benchDoc(n)
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				p, err := policy.Decode(doc)
				if err != nil || len(p.Rules) != n {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/DecodeReader", func(b *testing.B) {
			doc = benchDoc(n)
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				p, err := policy.DecodeReader(struct{ io.Reader }{bytes.NewReader(doc)}) // a stream: no seeking
				if err != nil || len(p.Rules) != n {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			doc = benchDoc(n)
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				var p plainDoc
				if err := json.Unmarshal(doc, &p); err != nil || len(p.Rules) != n {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMarshal encodes a policy of 100k rules.
func BenchmarkMarshal(b *testing.B) {
	p, err := policy.Decode(benchDoc(100000))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteTo writes the indented document as a file store does,
// against marshalling and indenting it whole.
func BenchmarkWriteTo(b *testing.B) {
	p, err := policy.Decode(benchDoc(100000))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("WriteTo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.WriteTo(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MarshalIndent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw, err := p.MarshalJSON()
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, raw, "", "  "); err != nil {
				b.Fatal(err)
			}
		}
	})
}
