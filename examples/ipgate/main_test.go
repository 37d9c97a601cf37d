package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ipgate/ipgate/policy"
)

func write(t *testing.T, file, doc string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), file)
	if err := os.WriteFile(name, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func ipgate(args []string, stdin string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

const goodDoc = `{"rules": [
	  {"id": "office", "ip": "10.0.0.0/8", "action": "allow"},
	  {"id": "guest", "ip": "10.1.0.0/16", "action": "deny"},
	  {"id": "desk", "ip": "192.0.2.1", "action": "allow", "adminOnly": true},
	  {"id": "temp", "ip": "198.51.100.7", "action": "allow", "expiresAt": "2026-06-01T00:00:00Z"}]}`

func TestCLI(t *testing.T) {
	good := write(t, "good.json", goodDoc)
	narrower := write(t, "narrower.json", strings.Replace(goodDoc, "10.1.0.0/16", "10.1.128.0/17", 1))
	clean := write(t, "clean.json", `{"defaultAction": "deny", "rules": [{"id": "office", "ip": "10.0.0.0/8", "action": "allow"}]}`)
	nginx := write(t, "nginx.conf", "deny 192.168.1.1;\nallow 192.168.1.0/24;\ndeny all;\n")
	bad := write(t, "bad.json", `{"rules": [
	  {"id": "a", "ip": "10.0.0.5/24", "action": "allow"},
	  {"id": "b", "ip": "10.0.0.1", "action": "permit"}]}`)
	missing := filepath.Join(t.TempDir(), "missing.json")
	tests := []struct {
		args        []string
		stdin       string
		code        int
		out, errOut string
	}{
		{[]string{"check", good, "10.2.3.4"}, "", 0, "allow rule=\"office\" reason=rule\n", ""},
		{[]string{"check", good, "10.1.3.4"}, "", 1, "deny rule=\"guest\" reason=rule\n", ""},
		{[]string{"check", good, "192.0.2.1"}, "", 1, "deny rule=- reason=default\n", ""},
		{[]string{"check", good, "192.0.2.1", "--admin"}, "", 0, "allow rule=\"desk\" reason=rule\n", ""},
		{[]string{"check", "-admin", good, "::ffff:192.0.2.1"}, "", 0, "allow rule=\"desk\" reason=rule\n", ""},
		{[]string{"check", good, "198.51.100.7", "--at", "2026-05-31T23:59:59Z"}, "", 0, "allow rule=\"temp\" reason=rule\n", ""},
		{[]string{"check", good, "198.51.100.7", "-at", "2026-06-01T00:00:00Z"}, "", 1, "deny rule=- reason=default\n", ""},
		{[]string{"check", good, "010.0.0.1"}, "", 2, "", "ipgate: rangeset.ParseAddr(\"010.0.0.1\"): invalid IP address \"010.0.0.1\": IPv4 field has octet with leading zero\n"},
		{[]string{"check", good, "-at", "soon"}, "", 2, "", "ipgate: -at \"soon\": want an RFC 3339 instant such as 2026-01-01T00:00:00Z\n"},
		{[]string{"check", good, "10.0.0.1", "-at", "0001-01-01T00:00:00Z"}, "", 2, "", "ipgate: -at \"0001-01-01T00:00:00Z\": the zero instant, at which no policy is compiled\n"},
		{[]string{"check"}, "", 2, "", "usage: ipgate check POLICY.json [ADDR|-]\nRun \"ipgate help check\" for details.\n"},
		{[]string{"check", good, "10.0.0.1", "-frob"}, "", 2, "", "ipgate check: flag provided but not defined: -frob\nRun \"ipgate help check\" for usage.\n"},
		{[]string{"check", missing, "10.0.0.1"}, "", 2, "", "ipgate: " + missing + ": no such file or directory\n"},
		{[]string{"check", bad, "10.0.0.1"}, "", 2, "", "ipgate: " + bad + ": rule \"a\": invalid target: rangeset.ParseRange(\"10.0.0.5/24\"): host bits set (canonical form 10.0.0.0/24)\n" +
			"ipgate: " + bad + ": rule \"b\": invalid action \"permit\" (want \"allow\" or \"deny\")\n"},

		// Batch checks: one line per address read, the address first.
		{[]string{"check", good}, "10.2.3.4\n\n  ::ffff:10.1.0.1 \r\n", 1, "10.2.3.4 allow rule=\"office\" reason=rule\n10.1.0.1 deny rule=\"guest\" reason=rule\n", ""},
		{[]string{"check", good, "-"}, "10.2.3.4\n10.3.0.1\n", 0, "10.2.3.4 allow rule=\"office\" reason=rule\n10.3.0.1 allow rule=\"office\" reason=rule\n", ""},
		{[]string{"check", good, "-"}, "10.2.3.4\nnope\nallow rule=x\n", 2,
			"10.2.3.4 allow rule=\"office\" reason=rule\n\"nope\" error\n\"allow rule=x\" error\n",
			"ipgate: line 2: rangeset.ParseAddr(\"nope\"): invalid IP address \"nope\": unable to parse IP\n" +
				"ipgate: line 3: rangeset.ParseAddr(\"allow rule=x\"): invalid IP address \"allow rule=x\": unable to parse IP\n"},
		{[]string{"check", good}, "", 0, "", ""},

		{[]string{"validate", good}, "", 0, good + ": ok: 4 rules\n", ""},
		{[]string{"validate", bad}, "", 1, bad + ": rule \"a\": invalid target: rangeset.ParseRange(\"10.0.0.5/24\"): host bits set (canonical form 10.0.0.0/24)\n" +
			bad + ": rule \"b\": invalid action \"permit\" (want \"allow\" or \"deny\")\n", ""},
		{[]string{"validate", missing}, "", 2, "", "ipgate: " + missing + ": no such file or directory\n"},
		{[]string{"frobnicate"}, "", 2, "", "ipgate: unknown command \"frobnicate\"\n" + usage},
		{[]string{"explain", good, "10.1.3.4", "--at", "2026-01-01T00:00:00Z"}, "", 1, "deny (rule \"guest\") at 2026-01-01T00:00:00Z\n" +
			"  \"guest\" 10.1.0.0/16 deny: winner\n  \"office\" 10.0.0.0/8 allow: beaten by \"guest\" (narrower)\n", ""},
		{[]string{"explain", good, "198.51.100.7", "--at", "2026-07-01T00:00:00Z"}, "", 1, "deny (default) at 2026-07-01T00:00:00Z\n" +
			"  \"temp\" 198.51.100.7 allow: expired since 2026-06-01T00:00:00Z\n", ""},
		{[]string{"import-nginx", nginx}, "", 0, nginxJSON, ""},
		{[]string{"diff", good, good}, "", 0, "", ""},
		{[]string{"lint", good, "--at", "2026-07-01T00:00:00Z"}, "", 1, "expired: rule \"temp\" expired at 2026-06-01T00:00:00Z\n", ""},
		{[]string{"lint", narrower, "--at", "2026-01-01T00:00:00Z"}, "", 0, narrower + ": no warnings\n", ""},
		{[]string{"lint", clean}, "", 0, clean + ": no warnings\n", ""},
		{[]string{"diff", good, narrower, "--at", "2026-01-01T00:00:00Z"}, "", 1,
			"10.1.0.0/17 admin=false mobile=false: deny (rule \"guest\") -> allow (rule \"office\")\n" +
				"10.1.0.0/17 admin=false mobile=true: deny (rule \"guest\") -> allow (rule \"office\")\n" +
				"10.1.0.0/17 admin=true mobile=false: deny (rule \"guest\") -> allow (rule \"office\")\n" +
				"10.1.0.0/17 admin=true mobile=true: deny (rule \"guest\") -> allow (rule \"office\")\n", ""},
	}
	for _, tt := range tests {
		code, out, errOut := ipgate(tt.args, tt.stdin)
		if code != tt.code || out != tt.out || errOut != tt.errOut {
			t.Errorf("ipgate %q < %q = %d\nstdout %q\nstderr %q\nwant %d\nstdout %q\nstderr %q", tt.args, tt.stdin, code, out, errOut, tt.code, tt.out, tt.errOut)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}} {
		if code, out, errOut := ipgate(args, ""); code != 0 || out != usage || errOut != "" {
			t.Errorf("ipgate %q = %d, %q, %q; want 0 and the usage on stdout", args, code, out, errOut)
		}
	}
	for _, c := range commands {
		for _, args := range [][]string{{"help", c.name}, {c.name, "-h"}, {c.name, "--help"}} {
			code, out, errOut := ipgate(args, "")
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: ipgate "+c.name+" ") ||
				!strings.Contains(out, "\nexit codes: 0 ") || strings.Contains(c.flags, "j") != strings.Contains(out, "-json") {
				t.Errorf("ipgate %q = %d\n%s%s", args, code, out, errOut)
			}
		}
	}
	code, out, _ := ipgate([]string{"help", "check"}, "")
	for _, want := range []string{"-admin", "-mobile", "-at string", "standard input", "0 every address allowed, 1 any denied, 2 "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("ipgate help check: %d, %q lacks %q", code, out, want)
		}
	}
	if code, out, errOut := ipgate([]string{"help", "frob\nallow"}, ""); code != 2 || out != "" || !strings.HasPrefix(errOut, "ipgate: unknown command \"frob\\nallow\"\n") {
		t.Errorf("ipgate help frob = %d, %q, %q", code, out, errOut)
	}
	if code, _, errOut := ipgate(nil, ""); code != 2 || errOut != usage {
		t.Errorf("ipgate = %d, %q; want 2 and the usage on stderr", code, errOut)
	}
}

// TestForgedLines is issue 13's finding 8: a rule id holding a newline
// made check print a forged "allow rule=office" line under a deny. No
// output line of any command may start with text from a rule id.
func TestForgedLines(t *testing.T) {
	evil := "x\nallow rule=office"
	doc, _ := json.Marshal(evil)
	file := write(t, "evil.json", `{"rules": [
	  {"id": `+string(doc)+`, "ip": "10.0.0.0/8", "action": "deny"},
	  {"id": `+string(doc[:len(doc)-1])+`2", "ip": "10.0.0.0/8", "action": "deny"},
	  {"id": "office", "ip": "10.0.0.0/16", "action": "allow", "expiresAt": "2025-01-01T00:00:00Z"}]}`)
	dup := write(t, "dup.json", `{"rules": [
	  {"id": `+string(doc)+`, "ip": "10.0.0.0/8", "action": "deny"},
	  {"id": `+string(doc)+`, "ip": "10.0.0.0/8", "action": "deny"}]}`)
	other := write(t, "other.json", `{"rules": []}`)
	weird := write(t, "a\nallow rule=office.json", `{"rules": []}`)
	nginx := write(t, "evil.conf", "allow 10.0.0.1;\nallow\n\"x\nallow rule=office\";")
	for _, args := range [][]string{
		{"check", file, "10.1.2.3"},
		{"check", file, "10.1.2.3", "-json"},
		{"explain", file, "10.0.0.1", "-at", "2026-01-01T00:00:00Z"},
		{"lint", file, "-at", "2026-01-01T00:00:00Z"},
		{"diff", file, other, "-at", "2026-01-01T00:00:00Z"},
		{"validate", dup},
		{"validate", weird},
		{"lint", weird},
		{"import-nginx", nginx},
		{"check", file, "x\nallow rule=office"},
		{"check", file, "10.0.0.1", "-x\nallow"},
		{"check", file, "-at", "x\nallow rule=office"},
		{"check", file},
	} {
		code, out, errOut := ipgate(args, "10.0.0.1\nx\nallow rule=office\n")
		if out == "" && errOut == "" {
			t.Errorf("ipgate %q printed nothing", args)
		}
		for _, line := range strings.Split(out+errOut, "\n") {
			if strings.HasPrefix(line, "allow") || strings.HasPrefix(line, "office") || strings.HasPrefix(line, " rule=office") {
				t.Errorf("ipgate %q (exit %d) printed a forged line %q:\n%s%s", args, code, line, out, errOut)
			}
		}
	}
}

// TestBoundedEcho checks that an error echoes at most about 64 bytes of
// one input, however long it is.
func TestBoundedEcho(t *testing.T) {
	long := strings.Repeat("9", 100_000)
	file := write(t, "p.json", `{"rules": [{"id": "`+long+`", "ip": "10.0.0.0/8", "action": "allow"}, {"id": "`+long+`", "ip": "10.0.0.0/8", "action": "allow"}]}`)
	for _, args := range [][]string{
		{"check", file, long},
		{"check", file, "10.0.0.1", "-at", long},
		{"validate", file},
		{"help", long},
		{long},
	} {
		_, out, errOut := ipgate(args, "")
		if n := len(out) + len(errOut); n > 3000 {
			t.Errorf("ipgate %.40q...: %d bytes of output", args, n)
		}
	}
	_, out, errOut := ipgate([]string{"check", file}, long+"\n")
	if n := len(out) + len(errOut); n > 1000 {
		t.Errorf("ipgate check < long line: %d bytes of output", n)
	}
}

func TestJSON(t *testing.T) {
	good := write(t, "good.json", goodDoc)
	narrower := write(t, "narrower.json", strings.Replace(goodDoc, "10.1.0.0/16", "10.1.128.0/17", 1))
	bad := write(t, "bad.json", `{"rules": [{"id": "a", "ip": "10.0.0.5/24", "action": "allow"}]}`)
	at := []string{"-json", "-at", "2026-07-01T00:00:00Z"}
	j := []string{"-json"}
	tests := []struct {
		args  []string
		flags []string
		stdin string
		code  int
		want  string // the output, with white space removed
	}{
		{[]string{"check", good, "10.1.2.3"}, at, "", 1, `{"addr":"10.1.2.3","allowed":false,"rule":"guest","reason":"rule"}`},
		{[]string{"check", good, "-"}, at, "10.2.0.1\nbad\n", 2, `{"addr":"10.2.0.1","allowed":true,"rule":"office","reason":"rule"}` +
			`{"line":2,"error":"rangeset.ParseAddr(\"bad\"):invalidIPaddress\"bad\":unabletoparseIP"}`},
		{[]string{"explain", good, "198.51.100.7"}, at, "", 1, `{"addr":"198.51.100.7","allowed":false,"reason":"default","at":"2026-07-01T00:00:00Z",` +
			`"matches":[{"id":"temp","target":"198.51.100.7","action":"allow","status":"expired","since":"2026-06-01T00:00:00Z"}]}`},
		{[]string{"validate", good}, j, "", 0, `{"file":"` + good + `","valid":true,"rules":4,"errors":[]}`},
		{[]string{"validate", bad}, j, "", 1, `{"file":"` + bad + `","valid":false,"rules":0,"errors":["rule\"a\":invalidtarget:rangeset.ParseRange(\"10.0.0.5/24\"):hostbitsset(canonicalform10.0.0.0/24)"]}`},
		{[]string{"lint", good}, at, "", 1, `{"file":"` + good + `","warnings":[{"kind":"expired","rules":["temp"],"message":"rule\"temp\"expiredat2026-06-01T00:00:00Z"}]}`},
		{[]string{"diff", good, good}, at, "", 0, `{"changes":[]}`},
		{[]string{"diff", good, narrower, "-admin"}, at, "", 2, ``}, // -admin is not a diff flag
	}
	for _, tt := range tests {
		code, out, errOut := ipgate(append(tt.args, tt.flags...), tt.stdin)
		if got := strings.Join(strings.Fields(out), ""); code != tt.code || got != tt.want {
			t.Errorf("ipgate %q = %d\n%s\nwant %d\n%s\nstderr %s", tt.args, code, got, tt.code, tt.want, errOut)
		}
	}
	code, out, _ := ipgate(append([]string{"diff", good, narrower}, at...), "")
	var v struct {
		Changes []struct {
			Range         string
			Admin, Mobile bool
			Old, New      struct {
				Allowed      bool
				Rule, Reason string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || len(v.Changes) != 4 ||
		v.Changes[0].Range != "10.1.0.0/17" || v.Changes[0].Old.Rule != "guest" || !v.Changes[0].New.Allowed {
		t.Errorf("diff -json = %d, %v, %+v", code, err, v)
	}
}

// TestProgress shows the progress line only after the delay, clears it
// before other output and at the end; run never shows it when standard
// error is not a terminal.
func TestProgress(t *testing.T) {
	var b bytes.Buffer
	term := &term{w: &b}
	stop := showProgress(term, "loading x.json", 0, time.Hour)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		term.mu.Lock()
		shown := term.status
		term.mu.Unlock()
		if shown || time.Now().After(deadline) {
			break
		}
	}
	fmt.Fprintln(term, "ipgate: line 3: bad")
	stop()
	stop() // idempotent
	if got, want := b.String(), "\r\033[Kipgate: loading x.json | 0s\r\033[Kipgate: line 3: bad\n"; got != want {
		t.Errorf("progress wrote %q, want %q", got, want)
	}
	b.Reset()
	stop = showProgress(term, "quick", time.Hour, time.Millisecond)
	stop()
	if b.String() != "" {
		t.Errorf("work quicker than the delay showed progress: %q", b.String())
	}
	if c := (&cli{stderr: &b}); c.progress("x") == nil {
		t.Error("progress returned nil")
	}
}

// TestREADME runs the commands the README shows on the files in testdata.
func TestREADME(t *testing.T) {
	office, next := "testdata/office.json", "testdata/office-next.json"
	tests := []struct {
		args  []string
		stdin string
		code  int
		out   string
	}{
		{[]string{"check", office, "10.1.9.9"}, "", 1, "deny rule=\"guest-net\" reason=rule\n"},
		{[]string{"check", office, "-at", "2026-01-01T00:00:00Z"}, "10.1.9.9\n10.1.2.3\n192.168.0.50\n203.0.113.1\n", 1,
			"10.1.9.9 deny rule=\"guest-net\" reason=rule\n10.1.2.3 allow rule=\"printer\" reason=rule\n" +
				"192.168.0.50 deny rule=- reason=default\n203.0.113.1 deny rule=- reason=default\n"},
		{[]string{"validate", office}, "", 0, "testdata/office.json: ok: 6 rules\n"},
		{[]string{"explain", office, "10.1.2.3", "--at", "2026-01-01T00:00:00Z"}, "", 0, "allow (rule \"printer\") at 2026-01-01T00:00:00Z\n" +
			"  \"printer\" 10.1.2.3 allow: winner\n" +
			"  \"printer-old\" 10.1.2.3 allow: beaten by \"printer\" (smaller id)\n" +
			"  \"guest-net\" 10.1.0.0/16 deny: beaten by \"printer\" (narrower)\n" +
			"  \"corp\" 10.0.0.0/8 allow: beaten by \"printer\" (narrower)\n"},
		{[]string{"explain", office, "198.51.100.7", "--at", "2026-07-01T00:00:00Z"}, "", 1, "deny (default) at 2026-07-01T00:00:00Z\n" +
			"  \"contractor\" 198.51.100.7 allow: expired since 2026-06-01T00:00:00Z\n"},
		{[]string{"lint", office, "--at", "2026-01-01T00:00:00Z"}, "", 1, "duplicate: rule \"printer-old\" duplicates rule \"printer\"\n" +
			"never-wins: rule \"printer-old\" never wins: narrower or equal rules decide every address it holds, for every subject it binds\n"},
		{[]string{"lint", next, "--at", "2026-01-01T00:00:00Z"}, "", 0, "testdata/office-next.json: no warnings\n"},
	}
	for _, tt := range tests {
		code, out, errOut := ipgate(tt.args, tt.stdin)
		if code != tt.code || out != tt.out {
			t.Errorf("ipgate %q = %d\n%s%s\nwant %d\n%s", tt.args, code, out, errOut, tt.code, tt.out)
		}
	}
	code, out, _ := ipgate([]string{"diff", office, next, "--at", "2026-01-01T00:00:00Z"}, "")
	want := "10.1.128.0/17 admin=false mobile=false: deny (rule \"guest-net\") -> allow (rule \"corp\")\n" +
		"192.168.0.1-192.168.0.100 admin=false mobile=false: deny (default) -> allow (rule \"vpn\")\n" +
		"198.51.100.7 admin=false mobile=false: allow (rule \"contractor\") -> deny (default)\n"
	if code != 1 || !strings.HasPrefix(out, want) {
		t.Errorf("diff = %d\n%s\nwant it to start with\n%s", code, out, want)
	}
	code, out, _ = ipgate([]string{"import-nginx", "testdata/nginx.conf"}, "")
	if p, err := policy.Decode([]byte(out)); err != nil || len(p.Rules) != 8 {
		t.Errorf("import-nginx printed a document that does not decode: %v", err) // its ranges span the mapped block
	}
	for _, rule := range []string{`"id": "line4",`, `"ip": "::-2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",`, `"id": "line4.4",`} {
		if code != 0 || !strings.Contains(out, rule) {
			t.Errorf("import-nginx = %d, lacks %s\n%s", code, rule, out)
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

// failWriter fails every write, as /dev/full does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// Output that is lost makes the command fail, whatever it decided.
func TestLostOutput(t *testing.T) {
	t.Parallel()
	good := write(t, "good.json", goodDoc)
	narrower := write(t, "narrower.json", strings.Replace(goodDoc, "10.1.0.0/16", "10.1.128.0/17", 1))
	for _, args := range [][]string{
		{"check", good, "10.2.3.4"},
		{"check", good},
		{"validate", good},
		{"lint", good},
		{"diff", good, narrower},
		{"export", "nginx", good},
		{"import-list", "plain", "-"},
		{"help"},
		{"help", "check"},
	} {
		var errOut bytes.Buffer
		code := run(args, strings.NewReader("10.0.0.1\n"), failWriter{}, &errOut)
		if code != exitBad || !strings.Contains(errOut.String(), "ipgate: writing the output: no space left on device") {
			t.Errorf("ipgate %v to a full disk = %d, %q; want 2 and the write error", args, code, errOut.String())
		}
	}
}

// Standard input past the cap is bad input, as a file past it is.
func TestImportListTooLarge(t *testing.T) {
	t.Parallel()
	var errOut bytes.Buffer
	code := run([]string{"import-list", "plain", "-"}, iotest.ErrReader(errTooLarge), io.Discard, &errOut)
	if code != exitBad || !strings.Contains(errOut.String(), "larger than 1024 MiB") {
		t.Errorf("import-list of too much input = %d, %q; want 2", code, errOut.String())
	}
}

func TestCapped(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want error
	}{{"0123456789", nil}, {"0123456789a", errTooLarge}, {"", nil}} {
		got, err := io.ReadAll(&capped{r: iotest.OneByteReader(strings.NewReader(tt.in)), n: 10})
		if err != tt.want || err == nil && string(got) != tt.in {
			t.Errorf("reading %q capped at 10 = %q, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// A line too long for an address stops the batch, naming it.
func TestBatchLongLine(t *testing.T) {
	t.Parallel()
	good := write(t, "good.json", goodDoc)
	code, out, errOut := ipgate([]string{"check", good}, "10.0.0.1\n"+strings.Repeat("1", 70000)+"\n")
	if code != exitBad || out != "10.0.0.1 allow rule=\"office\" reason=rule\n" || errOut != "ipgate: standard input: line 2: bufio.Scanner: token too long\n" {
		t.Errorf("check with a long line = %d, %q, %q", code, out, errOut)
	}
}
