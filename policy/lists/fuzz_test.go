package lists

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ipgate/ipgate/policy"
)

// FuzzParse: every format either fails with an error, or gives valid
// rules that merge into a valid policy, each id naming its source.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"1.10.16.0/20 ; SBL256894\n; comment\n",
		"# firehol\n10.0.0.0/8\n192.0.2.1\n\n",
		`{"prefixes":[{"ip_prefix":"3.5.140.0/22","region":"ap-northeast-2","service":"AMAZON"}],"ipv6_prefixes":[{"ipv6_prefix":"2600:1f14::/35","region":"us-west-2","service":"EC2"}]}`,
		`{"hooks":["192.30.252.0/22","2a0a:a440::/29"],"web":["140.82.112.0/20"]}`,
		`{"result":{"ipv4_cidrs":["173.245.48.0/20"],"ipv6_cidrs":["2400:cb00::/32"]},"success":true}`,
		"173.245.48.0/20\n103.21.244.0/22\n",
		`{"prefixes":[{"ipv4Prefix":"8.8.4.0/24"},{"ipv6Prefix":"2001:4860::/32"}]}`,
		"10.0.0.5/24\n", "{", "\xff\n",
	} {
		f.Add(s)
	}
	formats := []struct {
		source string
		parse  func(r *bytes.Reader) ([]policy.Rule, error)
	}{
		{"plain", func(r *bytes.Reader) ([]policy.Rule, error) { return Read(r, "plain", &Options{Source: "plain"}) }},
		{"spamhaus", func(r *bytes.Reader) ([]policy.Rule, error) { return Read(r, "spamhaus", &Options{Source: "spamhaus"}) }},
		{"aws", func(r *bytes.Reader) ([]policy.Rule, error) { return Read(r, "aws", &Options{Source: "aws"}) }},
		{"github", func(r *bytes.Reader) ([]policy.Rule, error) {
			return Read(r, "github", &Options{Source: "github", Keys: []string{"hooks", "web"}})
		}},
		{"cloudflare", func(r *bytes.Reader) ([]policy.Rule, error) {
			return Read(r, "cloudflare", &Options{Source: "cloudflare"})
		}},
		{"google", func(r *bytes.Reader) ([]policy.Rule, error) { return Read(r, "google", &Options{Source: "google"}) }},
	}
	f.Fuzz(func(t *testing.T, data string) {
		for _, fm := range formats {
			rules, err := fm.parse(bytes.NewReader([]byte(data)))
			if err != nil {
				if len(err.Error()) > 64*1024 {
					t.Fatalf("%s: an error of %d bytes", fm.source, len(err.Error()))
				}
				continue
			}
			p := policy.New(rules...)
			if err := p.Validate(); err != nil {
				t.Fatalf("%s(%q): invalid rules: %v", fm.source, data, err)
			}
			for _, r := range p.Rules {
				if !strings.HasPrefix(r.ID, fm.source+":") {
					t.Fatalf("%s(%q): rule id %q names no source", fm.source, data, r.ID)
				}
			}
		}
	})
}
