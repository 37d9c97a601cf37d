package main

import (
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/export"
	"github.com/ipgate/ipgate/check/ordered"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/policy/lists"
)

func TestImportList(t *testing.T) {
	drop := write(t, "drop.txt", "; Spamhaus DROP List\n1.10.16.0/20 ; SBL256894\n2001:678:738::/48 ; SBL635837\n")
	meta := write(t, "meta.json", `{"hooks": ["192.30.252.0/22"], "web": ["140.82.112.0/20"], "ssh_keys": ["ssh-ed25519 AAAA"]}`)
	bad := write(t, "bad.netset", "# list\n10.0.0.0/8\n10.0.0.5/24\nnot-an-address\n")
	tests := []struct {
		args   []string
		stdin  string
		code   int
		rules  string // "id action comment" per rule
		errOut string
	}{
		{[]string{"import-list", "spamhaus", drop}, "", 0,
			"spamhaus:1.10.16.0/20 deny spamhaus: SBL256894\nspamhaus:2001:678:738::/48 deny spamhaus: SBL635837\n", ""},
		{[]string{"import-list", "github", meta, "-key", "hooks", "-source", "gh"}, "", 0,
			"gh:192.30.252.0/22 allow gh: hooks\n", ""},
		{[]string{"import-list", "cloudflare", "-", "-action", "deny"}, "173.245.48.0/20\n2400:cb00::/32\n", 0,
			"cloudflare:173.245.48.0/20 deny cloudflare: line 1\ncloudflare:2400:cb00::/32 deny cloudflare: line 2\n", ""},
		{[]string{"import-list", "plain", bad}, "", 1, "", "ipgate: " + name(bad) + ": lists.Read: plain: line 3: rangeset.ParseRange(\"10.0.0.5/24\"): host bits set (canonical form 10.0.0.0/24)\n" +
			"ipgate: " + name(bad) + ": lists.Read: plain: line 4: rangeset.ParseRange(\"not-an-address\"): invalid IP address \"not\": unable to parse IP\n"},
		{[]string{"import-list", "plain", "-"}, "\x1b[2J\n", 1, "", "ipgate: standard input: lists.Read: plain: line 1: rangeset.ParseRange(\"\\x1b[2J\"): invalid IP address \"\\x1b[2J\": unable to parse IP\n"},
		{[]string{"import-list", "aws", meta}, "", 1, "", "ipgate: " + name(meta) + ": lists.Read: aws: no \"prefixes\" or \"ipv6_prefixes\": not an ip-ranges.json document\n"},
		{[]string{"import-list", "plain", meta, "-region", "x"}, "", 1, "", "ipgate: " + name(meta) + ": lists.Read: plain: Options.Regions does not apply to this format\n"},
		{[]string{"import-list", "csv\n", drop}, "", 2, "", "ipgate: import-list: unknown format \"csv\\n\" (want plain, spamhaus, aws, github, cloudflare or google)\n"},
		{[]string{"import-list", "plain", drop, "-action", "block"}, "", 2, "", "ipgate: -action \"block\": want allow or deny\n"},
		{[]string{"import-list", "plain"}, "", 2, "", "usage: ipgate import-list FORMAT FILE|-\nRun \"ipgate help import-list\" for details.\n"},
	}
	for _, tt := range tests {
		code, out, errOut := ipgate(tt.args, tt.stdin)
		if code != tt.code || errOut != tt.errOut {
			t.Errorf("ipgate %q = %d\n%s%s\nwant %d\n%s", tt.args, code, out, errOut, tt.code, tt.errOut)
			continue
		}
		if code != 0 {
			if out != "" {
				t.Errorf("ipgate %q printed %q with an error", tt.args, out)
			}
			continue
		}
		p, err := policy.Decode([]byte(out))
		if err != nil {
			t.Errorf("ipgate %q printed a document that does not decode: %v\n%s", tt.args, err, out)
			continue
		}
		var got strings.Builder
		for _, r := range p.Rules {
			got.WriteString(r.ID + " " + r.Action.String() + " " + r.Comment + "\n")
		}
		if got.String() != tt.rules {
			t.Errorf("ipgate %q rules:\n%s\nwant:\n%s", tt.args, got.String(), tt.rules)
		}
	}
}

func TestExport(t *testing.T) {
	good := write(t, "good.json", goodDoc)
	at := "2026-01-01T00:00:00Z"
	code, out, errOut := ipgate([]string{"export", "nginx", good, "--admin", "--at", at}, "")
	if code != 0 || errOut != "" {
		t.Fatalf("export nginx = %d, %q", code, errOut)
	}
	// Read back, the directives decide as the policy does for an admin.
	list, _, err := ordered.ParseNginx(out)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ordered.Policy(list, policy.DefaultAllow)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := policy.Decode([]byte(goodDoc))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ws, _ := check.Compile(want, t0)
	bs, _ := check.Compile(back, t0)
	for _, a := range []string{"10.2.3.4", "10.1.3.4", "192.0.2.1", "192.0.2.2", "198.51.100.7", "::1", "::ffff:10.2.3.4"} {
		addr := netip.MustParseAddr(a) // the mapped one kept mapped: Check unmaps it
		w := ws.Check(check.Request{Addr: addr, Admin: true, At: t0}).Allowed
		if g := bs.Check(check.Request{Addr: addr, At: t0}).Allowed; g != w {
			t.Errorf("%s: exported nginx allows %v, the policy %v\n%s", a, g, w, out)
		}
	}
	if !strings.Contains(out, "allow 192.0.2.1;\n") || !strings.HasSuffix(out, "deny all;\n") ||
		!strings.Contains(out, "# A rule expires at 2026-06-01T00:00:00Z") {
		t.Errorf("export nginx:\n%s", out)
	}

	tests := []struct {
		args        []string
		code        int
		contains    []string
		notContains []string
		errOut      string
	}{
		// Without -admin, the admin-only rule is not written.
		{[]string{"export", "haproxy", good, "-at", at}, 0, []string{"::ffff:10.0.0.0/112\n", "::ffff:198.51.100.7/128\n"}, []string{"192.0.2.1"}, ""},
		// After the expiry, the contractor is gone.
		{[]string{"export", "haproxy", good, "-at", "2026-06-01T00:00:00Z"}, 0, []string{"::ffff:10.0.0.0/112\n"}, []string{"198.51.100.7", "expires"}, ""},
		{[]string{"export", "nftables", good, "-at", at, "-denied"}, 0, []string{"set ipgate_deny {\n", "\t\t10.1.0.0/16,\n", "set ipgate_deny6 {\n", "\t\t::/81,\n"}, nil, ""},
		{[]string{"export", "nftables", good, "-at", at, "-admin"}, 0, []string{"set ipgate_allow {\n", "\t\t192.0.2.1,\n", "set ipgate_allow6 {\n\ttype ipv6_addr\n\tflags interval\n}\n"}, nil, ""},
		{[]string{"export", "csv", good}, 2, nil, nil, "ipgate: export: unknown format \"csv\" (want nginx, haproxy or nftables)\n"},
		{[]string{"export", "nginx"}, 2, nil, nil, "usage: ipgate export FORMAT POLICY.json\nRun \"ipgate help export\" for details.\n"},
	}
	for _, tt := range tests {
		code, out, errOut := ipgate(tt.args, "")
		if code != tt.code || errOut != tt.errOut {
			t.Errorf("ipgate %q = %d\n%s%s\nwant %d %q", tt.args, code, out, errOut, tt.code, tt.errOut)
			continue
		}
		for _, s := range tt.contains {
			if !strings.Contains(out, s) {
				t.Errorf("ipgate %q lacks %q:\n%s", tt.args, s, out)
			}
		}
		for _, s := range tt.notContains {
			if strings.Contains(out, s) {
				t.Errorf("ipgate %q has %q:\n%s", tt.args, s, out)
			}
		}
	}
	bad := write(t, "bad.json", `{"rules": [{"id": "a", "ip": "10.0.0.5/24", "action": "allow"}]}`)
	if code, out, errOut := ipgate([]string{"export", "nginx", bad}, ""); code != 2 || out != "" || !strings.Contains(errOut, "host bits set") {
		t.Errorf("export of an invalid policy = %d, %q, %q", code, out, errOut)
	}
}

// TestFormatsKnown: every format the CLI accepts is one the library reads
// or writes, so that the CLI's lists cannot drift from the packages'.
func TestFormatsKnown(t *testing.T) {
	for _, f := range listFormats {
		if _, err := lists.Read(strings.NewReader(""), f, nil); err == nil || strings.Contains(err.Error(), "unknown format") {
			t.Errorf("lists.Read(%q) = %v, want a list error, not an unknown format", f, err)
		}
	}
	s, err := check.Compile(policy.New(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range exportFormats {
		if err := export.Write(io.Discard, s, f, nil); err != nil {
			t.Errorf("export.Write(%q) = %v", f, err)
		}
	}
}
