package lists

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

type parser func(io.Reader, *Options) ([]policy.Rule, error)

// reading returns the parser Read is for the format.
func reading(format string) parser {
	return func(r io.Reader, opts *Options) ([]policy.Rule, error) { return Read(r, format, opts) }
}

// The formats, as Read reads them.
var (
	readPlain      = reading("plain")
	readSpamhaus   = reading("spamhaus")
	readAWS        = reading("aws")
	readGitHub     = reading("github")
	readCloudflare = reading("cloudflare")
	readGoogle     = reading("google")
)

// brief renders rules as "id action comment" lines.
func brief(rules []policy.Rule) string {
	var b strings.Builder
	for _, r := range rules {
		b.WriteString(r.ID + " " + r.Action.String() + " " + r.Comment + "\n")
	}
	return b.String()
}

func TestFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file string
		parse      parser
		opts       *Options
		want       string
	}{
		{"plain", "firehol.netset", readPlain, &Options{Source: "firehol", Action: policy.Deny}, `firehol:0.0.0.0/8 deny firehol: line 12
firehol:1.10.16.0/20 deny firehol: line 13
firehol:10.0.0.0/8 deny firehol: line 14 RFC 1918
firehol:192.0.2.7 deny firehol: line 15
firehol:2001:db8::/32 deny firehol: line 16
`},
		{"plain default action", "firehol.netset", readPlain, nil, `plain:0.0.0.0/8 allow plain: line 12
plain:1.10.16.0/20 allow plain: line 13
plain:10.0.0.0/8 allow plain: line 14 RFC 1918
plain:192.0.2.7 allow plain: line 15
plain:2001:db8::/32 allow plain: line 16
`},
		{"spamhaus", "drop.txt", readSpamhaus, nil, `spamhaus:1.10.16.0/20 deny spamhaus: SBL256894
spamhaus:1.19.0.0/16 deny spamhaus: SBL434604
spamhaus:2.56.192.0/22 deny spamhaus: SBL459831
`},
		{"spamhaus json", "drop_v4.json", readSpamhaus, nil, `spamhaus:1.10.16.0/20 deny spamhaus: SBL256894
spamhaus:1.19.0.0/16 deny spamhaus: SBL434604
spamhaus:2.56.192.0/22 deny spamhaus: SBL459831
`},
		{"spamhaus v6", "dropv6.txt", readSpamhaus, &Options{Source: "drop6"}, `drop6:2001:678:738::/48 deny drop6: SBL635837
drop6:2a06:e480::/29 deny drop6: SBL301771
`},
		{"aws", "ip-ranges.json", readAWS, nil, `aws:3.2.34.0/26 allow aws: AMAZON af-south-1
aws:3.5.140.0/22 allow aws: AMAZON ap-northeast-2
aws:52.94.76.0/22 allow aws: EC2 us-east-1
aws:2600:1f14::/35 allow aws: AMAZON us-west-2
aws:2600:1f18::/33 allow aws: EC2 us-east-1
`},
		{"aws service", "ip-ranges.json", readAWS, &Options{Services: []string{"S3", "EC2"}}, `aws:3.5.140.0/22 allow aws: S3 ap-northeast-2
aws:52.94.76.0/22 allow aws: EC2 us-east-1
aws:2600:1f18::/33 allow aws: EC2 us-east-1
`},
		{"aws service and region", "ip-ranges.json", readAWS, &Options{Services: []string{"EC2"}, Regions: []string{"us-east-1"}}, `aws:52.94.76.0/22 allow aws: EC2 us-east-1
aws:2600:1f18::/33 allow aws: EC2 us-east-1
`},
		{"github", "meta.json", readGitHub, &Options{Keys: []string{"hooks"}}, `github:192.30.252.0/22 allow github: hooks
github:185.199.108.0/22 allow github: hooks
github:2a0a:a440::/29 allow github: hooks
`},
		{"github keys", "meta.json", readGitHub, &Options{Keys: []string{"web", "api"}}, `github:192.30.252.0/22 allow github: web
github:140.82.112.0/20 allow github: web
github:2606:50c0::/32 allow github: web
github:20.201.28.148 allow github: api
`},
		{"cloudflare v4", "ips-v4", readCloudflare, nil, `cloudflare:173.245.48.0/20 allow cloudflare: line 1
cloudflare:103.21.244.0/22 allow cloudflare: line 2
cloudflare:104.16.0.0/13 allow cloudflare: line 3
`},
		{"cloudflare v6", "ips-v6", readCloudflare, nil, `cloudflare:2400:cb00::/32 allow cloudflare: line 1
cloudflare:2606:4700::/32 allow cloudflare: line 2
`},
		{"cloudflare api", "cloudflare-api.json", readCloudflare, &Options{Source: "cf"}, `cf:173.245.48.0/20 allow cf: ipv4_cidrs
cf:103.21.244.0/22 allow cf: ipv4_cidrs
cf:2400:cb00::/32 allow cf: ipv6_cidrs
`},
		{"google", "goog.json", readGoogle, nil, `google:8.8.4.0/24 allow google
google:8.8.8.0/24 allow google
google:2001:4860::/32 allow google
`},
		{"google cloud", "cloud.json", readGoogle, &Options{Source: "gcp", Regions: []string{"asia-east1", "us-east1"}}, `gcp:34.80.0.0/15 allow gcp: Google Cloud asia-east1
gcp:2600:1900:4010::/44 allow gcp: Google Cloud us-east1
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rules, err := tt.parse(f, tt.opts)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if got := brief(rules); got != tt.want {
				t.Errorf("rules:\n%s\nwant:\n%s", got, tt.want)
			}
			// The rules make a valid policy.
			if err := policy.New(rules...).Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			// Targets are the list's, parsed.
			for _, r := range rules {
				if want := rangeset.MustParseRange(strings.SplitN(r.ID, ":", 2)[1]); r.Target != want {
					t.Errorf("%s: target %v", r.ID, r.Target)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		parse parser
		opts  *Options
		in    string
		want  string
	}{
		{"host bits", readPlain, nil, "# x\n10.0.0.0/8\n10.0.0.5/24 # typo\n",
			`lists.Read: plain: line 3: rangeset.ParseRange("10.0.0.5/24"): host bits set (canonical form 10.0.0.0/24)`},
		{"garbage quoted", readPlain, nil, "10.0.0.0/8\n\x1b[2Jevil\n",
			`lists.Read: plain: line 2: rangeset.ParseRange("\x1b[2Jevil"): invalid IP address "\x1b[2Jevil": unable to parse IP`},
		{"mapped", readPlain, nil, "::ffff:10.0.0.0/104\n",
			`lists.Read: plain: line 1: rangeset.ParseRange("::ffff:10.0.0.0/104"): IPv4-mapped IPv6 address not allowed in a rule target (write the IPv4 address): "::ffff:10.0.0.0"`},
		{"spamhaus hash is no comment", readSpamhaus, nil, "1.10.16.0/20 # SBL1\n",
			`lists.Read: spamhaus: line 1: rangeset.ParseRange("1.10.16.0/20 # SBL1"): invalid prefix length "20 # SBL1" (want 0 to 32)`},
		{"plain semicolon is no comment", readPlain, nil, "1.10.16.0/20 ; SBL1\n",
			`lists.Read: plain: line 1: rangeset.ParseRange("1.10.16.0/20 ; SBL1"): invalid prefix length "20 ; SBL1" (want 0 to 32)`},
		{"spamhaus json bad", readSpamhaus, nil, "{\"cidr\": \"1.10.16.0/20\"}\n{\"sblid\": \"SBL1\"}\n{\"cidr\": \"1.10.16.1/20\"}\nnot json\n",
			"lists.Read: spamhaus: line 2: no \"cidr\"\n" +
				"lists.Read: spamhaus: line 3: rangeset.ParseRange(\"1.10.16.1/20\"): host bits set (canonical form 1.10.16.0/20)\n" +
				"lists.Read: spamhaus: line 4: not a JSON object: invalid character 'o' in literal null (expecting 'u')\n" +
				"lists.Read: spamhaus: metadata: no metadata line, and the list holds 4: it is cut short or damaged"},
		{"aws not json", readAWS, nil, "3.2.34.0/26\n",
			`lists.Read: aws: not a JSON document of this format: invalid character '.' after top-level value`},
		{"aws wrong document", readAWS, nil, `{"prefixes4": []}`,
			`lists.Read: aws: no "prefixes" or "ipv6_prefixes": not an ip-ranges.json document`},
		{"aws bad prefix", readAWS, nil, `{"prefixes": [{"ip_prefix": "3.2.34.0/26"}, {"ip_prefix": "3.2.34.1/26"}, {"ipv6_prefix": "::/0"}]}`,
			"lists.Read: aws: prefixes[1].ip_prefix: rangeset.ParseRange(\"3.2.34.1/26\"): host bits set (canonical form 3.2.34.0/26)\n" +
				"lists.Read: aws: prefixes[2].ip_prefix: missing"},
		{"aws unknown region", readAWS, &Options{Regions: []string{"us-east-1", "us-est-1"}}, `{"prefixes": [{"ip_prefix": "3.2.34.0/26", "region": "us-east-1"}]}`,
			`lists.Read: aws: Options.Regions: no entry has "us-est-1"`},
		{"github missing key", readGitHub, &Options{Keys: []string{"hooks", "hoks"}}, `{"hooks": ["192.30.252.0/22"]}`,
			`lists.Read: github: Options.Keys: the document has no key "hoks"`},
		{"github not array of strings", readGitHub, &Options{Keys: []string{"domains"}}, `{"domains": {"website": []}}`,
			`lists.Read: github: "domains": not an array of strings`},
		{"github no arrays", readGitHub, nil, `{"message": "Not Found"}`,
			`lists.Read: github: no arrays of prefixes: not a meta API document`},
		{"github keys needed", readGitHub, nil, `{"hooks": ["192.30.252.0/22"], "actions": [], "ssh_keys": [], "verifiable_password_authentication": true}`,
			`lists.Read: github: no Options.Keys: choose among "actions", "hooks"`},
		{"github null", readGitHub, &Options{Keys: []string{"hooks"}}, `{"hooks": null}`,
			`lists.Read: github: "hooks": not an array of strings`},
		{"github bad cidr", readGitHub, &Options{Keys: []string{"hooks"}}, `{"hooks": ["192.30.252.0/22", "192.30.252.0/33"]}`,
			`lists.Read: github: "hooks"[1]: rangeset.ParseRange("192.30.252.0/33"): invalid prefix length "33" (want 0 to 32)`},
		{"aws key twice", readAWS, nil, `{"prefixes": [{"ip_prefix": "3.0.0.0/8"}], "prefixes": []}`,
			`lists.Read: aws: the key "prefixes" appears twice in an object`},
		{"aws key in other letters", readAWS, nil, `{"prefixes": [{"ip_prefix": "3.0.0.0/8"}], "Prefixes": []}`,
			`lists.Read: aws: the key "Prefixes" is "prefixes" in other letters`},
		{"aws family", readAWS, nil, `{"prefixes": [{"ip_prefix": "::/0"}], "ipv6_prefixes": [{"ipv6_prefix": "3.0.0.0/8"}]}`,
			"lists.Read: aws: prefixes[0].ip_prefix: \"::/0\" is not of the field's address family\n" +
				"lists.Read: aws: ipv6_prefixes[0].ipv6_prefix: \"3.0.0.0/8\" is not of the field's address family"},
		{"spamhaus json key in other letters", readSpamhaus, nil, `{"cidr": "1.2.3.0/24", "CIDR": "0.0.0.0/0"}` + "\n" + `{"type": "metadata", "records": 1}`,
			`lists.Read: spamhaus: line 1: the key "CIDR" is "cidr" in other letters`},
		{"spamhaus json cut", readSpamhaus, nil, `{"cidr": "1.10.16.0/20", "sblid": "SBL256894"}` + "\n",
			`lists.Read: spamhaus: metadata: no metadata line, and the list holds 1: it is cut short or damaged`},
		{"spamhaus json two metadata lines", readSpamhaus, nil, `{"cidr": "1.10.16.0/20"}` + "\n" + `{"type": "metadata"}` + "\n" + `{"type": "metadata"}`,
			`lists.Read: spamhaus: line 3: a second metadata line`},
		{"spamhaus json count", readSpamhaus, nil, `{"cidr": "1.10.16.0/20"}` + "\n" + `{"type": "metadata", "records": 3}`,
			`lists.Read: spamhaus: metadata: the metadata line counts 3 records, and the list holds 1: it is cut short or damaged`},
		{"github key twice", readGitHub, &Options{Keys: []string{"hooks"}}, `{"hooks": ["192.30.252.0/22"], "hooks": []}`,
			`lists.Read: github: the key "hooks" appears twice in an object`},
		{"google family", readGoogle, nil, `{"prefixes": [{"ipv4Prefix": "::/0"}]}`,
			`lists.Read: google: prefixes[0].ipv4Prefix: "::/0" is not of the field's address family`},
		{"cloudflare family", readCloudflare, nil, `{"result": {"ipv4_cidrs": ["::/0"]}}`,
			`lists.Read: cloudflare: result.ipv4_cidrs[0]: "::/0" is not of the field's address family`},
		{"cloudflare failure", readCloudflare, nil, `{"success": false, "errors": [{"code": 1000}]}`,
			`lists.Read: cloudflare: the API answered "success": false`},
		{"cloudflare bad", readCloudflare, nil, `{"result": {"ipv6_cidrs": ["2400:cb00::/32", "2400:cb00::1/32"]}, "success": true}`,
			`lists.Read: cloudflare: result.ipv6_cidrs[1]: rangeset.ParseRange("2400:cb00::1/32"): host bits set (canonical form 2400:cb00::/32)`},
		{"google both", readGoogle, nil, `{"prefixes": [{"ipv4Prefix": "8.8.8.0/24", "ipv6Prefix": "2001:4860::/32"}, {}]}`,
			"lists.Read: google: prefixes[0]: want one of ipv4Prefix and ipv6Prefix\nlists.Read: google: prefixes[1]: want one of ipv4Prefix and ipv6Prefix"},
		{"filter not of the format", readPlain, &Options{Services: []string{"EC2"}}, "",
			`lists.Read: plain: Options.Services does not apply to this format`},
		{"keys not of aws", readAWS, &Options{Keys: []string{"hooks"}}, "{}",
			`lists.Read: aws: Options.Keys does not apply to this format`},
		{"bad action", readPlain, &Options{Action: 7}, "",
			`lists.Read: plain: invalid action Action(7)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := tt.parse(strings.NewReader(tt.in), tt.opts)
			if err == nil {
				t.Fatalf("no error, rules %v", rules)
			}
			if rules != nil {
				t.Errorf("rules %v with the error", rules)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestTypeErrorOffset: a value of the wrong type is named by its field,
// which many elements share, and found by the byte offset the error adds.
func TestTypeErrorOffset(t *testing.T) {
	t.Parallel()
	doc := `{"prefixes": [{"ip_prefix": "3.0.0.0/8"}, {"ip_prefix": 3}]}`
	_, err := Read(strings.NewReader(doc), "aws", nil)
	at := strings.Index(doc, ": 3}") + 2 // the bad value
	if err == nil || !strings.Contains(err.Error(), "prefixes.ip_prefix") || !strings.Contains(err.Error(), "(at byte "+strconv.Itoa(at+1)+")") {
		t.Errorf("error %v, want the field and the offset after the value at byte %d (encoding/json reports how many bytes it read)", err, at)
	}
}

// TestEmpty pins that a list without entries is an error wrapping
// rangeset.ErrEmpty, whatever emptied it: a failed download, a header
// alone, a JSON answer without its arrays, or a filter keeping nothing.
func TestEmpty(t *testing.T) {
	t.Parallel()
	aws := `{"prefixes": [{"ip_prefix": "3.2.34.0/26", "service": "EC2"}]}`
	for _, c := range []struct {
		name  string
		parse parser
		opts  *Options
		in    string
	}{
		{"plain nothing", readPlain, nil, ""},
		{"plain comments", readPlain, nil, "# FireHOL header\n\n"},
		{"spamhaus header", readSpamhaus, nil, "; Spamhaus EDROP List 2026/01/01\n; Last-Modified: x\n"},
		{"spamhaus json metadata alone", readSpamhaus, nil, `{"type": "metadata", "records": 0}`},
		{"spamhaus json metadata without count", readSpamhaus, nil, `{"type": "metadata", "timestamp": 1767225600}`},
		{"cloudflare no arrays", readCloudflare, nil, `{"result": {}, "success": true}`},
		{"cloudflare null", readCloudflare, nil, `{"result": {"ipv4_cidrs": null}}`},
		{"cloudflare text", readCloudflare, nil, "\n"},
		{"aws empty", readAWS, nil, `{"prefixes": []}`},
		{"aws no services", readAWS, &Options{Services: []string{}}, aws},
		{"google empty", readGoogle, nil, `{"prefixes": []}`},
		{"github no keys", readGitHub, &Options{Keys: []string{}}, `{"hooks": ["192.30.252.0/22"]}`},
		{"github empty array", readGitHub, &Options{Keys: []string{"hooks"}}, `{"hooks": []}`},
	} {
		rules, err := c.parse(strings.NewReader(c.in), c.opts)
		if !errors.Is(err, rangeset.ErrEmpty) || rules != nil {
			t.Errorf("%s: rules %v, error %v; want rangeset.ErrEmpty", c.name, rules, err)
		}
	}
}

// TestReadError pins that a reader's error stays one for errors.As, so
// that a body over http.MaxBytesReader's bound can be told apart.
func TestReadError(t *testing.T) {
	t.Parallel()
	for name, parse := range map[string]parser{"plain": readPlain, "spamhaus": readSpamhaus, "aws": readAWS, "cloudflare": readCloudflare} {
		body := http.MaxBytesReader(nil, io.NopCloser(strings.NewReader("10.0.0.1\n192.168.1.10\n")), 20)
		_, err := parse(body, nil)
		var tooBig *http.MaxBytesError
		if !errors.As(err, &tooBig) {
			t.Errorf("%s: error %v, want an *http.MaxBytesError in it", name, err)
		}
	}
}

func TestErrorsBounded(t *testing.T) {
	t.Parallel()
	var in strings.Builder
	for i := range 50 {
		in.WriteString("10.0.0." + strconv.Itoa(i) + "/8\n")
	}
	_, err := Read(strings.NewReader(in.String()), "plain", nil)
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 {
		t.Fatalf("%d lines, want %d:\n%v", len(lines), maxErrors+1, err)
	}
	// 10.0.0.0/8 is fine: 49 bad lines, 20 reported.
	if got, want := lines[maxErrors], "lists.Read: plain: ... and 29 more bad entries"; got != want {
		t.Errorf("last line %q, want %q", got, want)
	}
	if !strings.HasPrefix(lines[0], "lists.Read: plain: line 2: ") {
		t.Errorf("first line %q", lines[0])
	}
	if !errors.Is(err, rangeset.ErrHostBits) {
		t.Error("the errors do not wrap rangeset.ErrHostBits")
	}
}

func TestCRLFAndDuplicates(t *testing.T) {
	t.Parallel()
	rules, err := Read(strings.NewReader("10.0.0.0/8\r\n\r\n  10.0.0.0-10.255.255.255\t\r\n192.0.2.1-192.0.2.9\r\n"), "plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "plain:10.0.0.0/8 allow plain: line 1\nplain:192.0.2.1-192.0.2.9 allow plain: line 4\n"
	if got := brief(rules); got != want {
		t.Errorf("rules:\n%s\nwant:\n%s", got, want)
	}
}

// TestImportClash: a list imported twice under one tag, appended to a
// policy, makes it invalid, naming each id given twice, as the package doc
// says.
func TestImportClash(t *testing.T) {
	t.Parallel()
	p := policy.New(policy.Rule{ID: "office", Target: rangeset.MustParseRange("192.0.2.0/24"), Action: policy.Allow})
	hooks, err := Read(strings.NewReader(`{"hooks": ["192.30.252.0/22"]}`), "github", &Options{Keys: []string{"hooks"}})
	if err != nil {
		t.Fatal(err)
	}
	p.Rules = append(p.Rules, hooks...)
	if err := p.Validate(); err != nil {
		t.Fatalf("one import: %v", err)
	}
	again, err := Read(strings.NewReader(`{"hooks": ["192.30.252.0/22"], "web": ["140.82.112.0/20"]}`), "github", &Options{Keys: []string{"hooks", "web"}})
	if err != nil {
		t.Fatal(err)
	}
	p.Rules = append(p.Rules, again...)
	err = p.Validate()
	var re *policy.RuleError
	if !errors.As(err, &re) || re.ID != "github:192.30.252.0/22" || !strings.Contains(err.Error(), "duplicate id") || strings.Contains(err.Error(), "140.82.112.0/20") {
		t.Errorf("two imports: Validate = %v, want the duplicate id github:192.30.252.0/22 alone", err)
	}
}

func TestCommentText(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", maxComment-1) + "é and more"
	rules, err := Read(strings.NewReader("10.0.0.0/8 ; "+long+"\n192.0.2.0/24 ; \x1b[31mred\a\xff\n"+
		"198.51.100.0/24 ; SBL1\u2028FAKE\u202eevil\u200bx\u00a0y\n"), "spamhaus", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"spamhaus: " + strings.Repeat("a", maxComment-1) + "...", // not cut inside the é
		"spamhaus:  [31mred \ufffd",
		"spamhaus: SBL1 FAKE evil x y", // a line separator, a bidirectional override, a zero-width and a no-break space
	}
	if len(rules) != len(want) {
		t.Fatalf("got %d rules, want %d", len(rules), len(want))
	}
	for i, r := range rules {
		if r.Comment != want[i] || !utf8.ValidString(r.Comment) {
			t.Errorf("rule %d comment = %q, want %q", i, r.Comment, want[i])
		}
	}
}

// BenchmarkPlain reads a large netset, and input of blank lines alone,
// whose cost per byte is the line splitting's.
func BenchmarkPlain(b *testing.B) {
	var netset strings.Builder
	for i := range 100_000 {
		netset.WriteString("10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255) + "\n")
	}
	for _, c := range []struct{ name, in string }{
		{"entries=100k", netset.String()},
		{"blank-lines=8M", strings.Repeat("\n", 8<<20) + "10.0.0.1\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Read(strings.NewReader(c.in), "plain", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestReadUnknownFormat(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"", "Plain", "AWS", "firehol", "plain\n"} {
		rules, err := Read(strings.NewReader("10.0.0.0/8\n"), format, nil)
		want := "lists.Read: unknown format " + rangeset.Quote(format) + " (want plain, spamhaus, aws, github, cloudflare or google)"
		if rules != nil || err == nil || err.Error() != want {
			t.Errorf("Read(%q) = %v, %v; want %s", format, rules, err, want)
		}
	}
}
