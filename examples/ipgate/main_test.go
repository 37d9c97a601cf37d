package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, doc string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(name, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestCLI(t *testing.T) {
	good := write(t, `{"rules": [
	  {"id": "office", "ip": "10.0.0.0/8", "action": "allow"},
	  {"id": "guest", "ip": "10.1.0.0/16", "action": "deny"},
	  {"id": "desk", "ip": "192.0.2.1", "action": "allow", "adminOnly": true},
	  {"id": "temp", "ip": "198.51.100.7", "action": "allow", "expiresAt": "2026-06-01T00:00:00Z"}]}`)
	narrower := write(t, `{"rules": [
	  {"id": "office", "ip": "10.0.0.0/8", "action": "allow"},
	  {"id": "guest", "ip": "10.1.128.0/17", "action": "deny"},
	  {"id": "desk", "ip": "192.0.2.1", "action": "allow", "adminOnly": true},
	  {"id": "temp", "ip": "198.51.100.7", "action": "allow", "expiresAt": "2026-06-01T00:00:00Z"}]}`)
	nginx := write(t, "deny 192.168.1.1;\nallow 192.168.1.0/24;\ndeny all;\n")
	bad := write(t, `{"rules": [
	  {"id": "a", "ip": "10.0.0.5/24", "action": "allow"},
	  {"id": "b", "ip": "10.0.0.1", "action": "permit"}]}`)
	tests := []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"check", good, "10.2.3.4"}, 0, "allow rule=office reason=rule\n", ""},
		{[]string{"check", good, "10.1.3.4"}, 1, "deny rule=guest reason=rule\n", ""},
		{[]string{"check", good, "192.0.2.1"}, 1, "deny rule=- reason=default\n", ""},
		{[]string{"check", good, "192.0.2.1", "--admin"}, 0, "allow rule=desk reason=rule\n", ""},
		{[]string{"check", "--admin", good, "::ffff:192.0.2.1"}, 0, "allow rule=desk reason=rule\n", ""},
		{[]string{"check", good, "198.51.100.7", "--at", "2026-05-31T23:59:59Z"}, 0, "allow rule=temp reason=rule\n", ""},
		{[]string{"check", good, "198.51.100.7", "--at", "2026-06-01T00:00:00Z"}, 1, "deny rule=- reason=default\n", ""},
		{[]string{"check", good, "010.0.0.1"}, 2, "", "ipgate: rangeset.ParseAddr(\"010.0.0.1\"): invalid IP address \"010.0.0.1\": IPv4 field has octet with leading zero\n"},
		{[]string{"check", good}, 2, "", usage},
		{[]string{"validate", good}, 0, "ok: 4 rules\n", ""},
		{[]string{"validate", bad}, 1, "rule \"a\": invalid target: rangeset.ParseRange(\"10.0.0.5/24\"): host bits set (canonical form 10.0.0.0/24)\nrule \"b\": invalid action \"permit\" (want \"allow\" or \"deny\")\n", ""},
		{[]string{"validate", filepath.Join(t.TempDir(), "missing.json")}, 2, "", ""},
		{[]string{"frobnicate"}, 2, "", "ipgate: unknown command \"frobnicate\"\n" + usage},
		{[]string{"explain", good, "10.1.3.4", "--at", "2026-01-01T00:00:00Z"}, 1, "deny (rule guest) at 2026-01-01T00:00:00Z\n" +
			"  guest 10.1.0.0/16 deny: winner\n  office 10.0.0.0/8 allow: beaten by guest (narrower)\n", ""},
		{[]string{"explain", good, "198.51.100.7", "--at", "2026-07-01T00:00:00Z"}, 1, "deny (default) at 2026-07-01T00:00:00Z\n" +
			"  temp 198.51.100.7 allow: expired since 2026-06-01T00:00:00Z\n", ""},
		{[]string{"import-nginx", nginx}, 0, nginxJSON, ""},
		{[]string{"diff", good, good}, 0, "", ""},
		{[]string{"lint", good, "--at", "2026-07-01T00:00:00Z"}, 1, "expired: rule \"temp\" expired at 2026-06-01T00:00:00Z\n", ""},
		{[]string{"lint", narrower, "--at", "2026-01-01T00:00:00Z"}, 0, "", ""},
		{[]string{"diff", good, narrower, "--at", "2026-01-01T00:00:00Z"}, 1,
			"10.1.0.0/17 admin=false mobile=false: deny (rule guest) -> allow (rule office)\n" +
				"10.1.0.0/17 admin=false mobile=true: deny (rule guest) -> allow (rule office)\n" +
				"10.1.0.0/17 admin=true mobile=false: deny (rule guest) -> allow (rule office)\n" +
				"10.1.0.0/17 admin=true mobile=true: deny (rule guest) -> allow (rule office)\n", ""},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(tt.args, &out, &errOut)
		if code != tt.code || out.String() != tt.out || tt.errOut != "" && errOut.String() != tt.errOut {
			t.Errorf("ipgate %q = %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, out.String(), errOut.String(), tt.code, tt.out, tt.errOut)
		}
	}
}

const nginxJSON = `{
  "enabled": true,
  "defaultAction": "allow",
  "precedence": "mostSpecific",
  "applyToMobile": true,
  "rules": [
    {
      "id": "line3",
      "ip": "0.0.0.0-192.168.0.255",
      "action": "deny"
    },
    {
      "id": "line2",
      "ip": "192.168.1.0",
      "action": "allow"
    },
    {
      "id": "line1",
      "ip": "192.168.1.1",
      "action": "deny"
    },
    {
      "id": "line2.2",
      "ip": "192.168.1.2-192.168.1.255",
      "action": "allow"
    },
    {
      "id": "line3.2",
      "ip": "192.168.2.0-255.255.255.255",
      "action": "deny"
    },
    {
      "id": "line3.3",
      "ip": "::/0",
      "action": "deny"
    }
  ]
}
`
