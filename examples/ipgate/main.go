// Command ipgate checks addresses against a policy document and validates
// policy documents.
//
//	ipgate check POLICY.json ADDR [--admin] [--mobile] [--at TIME]
//	ipgate explain POLICY.json ADDR [--admin] [--mobile] [--at TIME]
//	ipgate validate POLICY.json
//	ipgate diff OLD.json NEW.json [--at TIME]
//	ipgate lint POLICY.json [--at TIME]
//	ipgate import-nginx NGINX.conf
//
// check prints one line, "allow" or "deny", the rule and the reason, and
// exits 0 when allowed, 1 when denied. validate prints every error, one per
// line, each naming its rule, and exits 1 when there is any. explain prints
// the decision and every rule whose target contains the address, with what
// became of it. diff prints every range whose decision changes, per
// subject, and exits 1 when there is any. lint prints warnings (rules that
// never win, duplicates, covered rules, broad allows, expired rules, a
// fragile allowlist) and exits 1 when there is any. import-nginx turns nginx allow/deny lines into an
// order-free policy document with the same decisions. Bad usage or an
// unreadable file exits 2.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage:
  ipgate check POLICY.json ADDR [--admin] [--mobile] [--at TIME]
  ipgate explain POLICY.json ADDR [--admin] [--mobile] [--at TIME]
  ipgate validate POLICY.json
  ipgate diff OLD.json NEW.json [--at TIME]
  ipgate lint POLICY.json [--at TIME]
  ipgate import-nginx NGINX.conf
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "check", "explain":
		return runCheck(args[0], args[1:], stdout, stderr)
	case "import-nginx":
		return runImport(args[1:], stdout, stderr)
	case "diff":
		return runDiff(args[1:], stdout, stderr)
	case "lint":
		return runLint(args[1:], stdout, stderr)
	case "validate":
		return runValidate(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "ipgate: unknown command %q\n%s", args[0], usage)
	return 2
}

// parse parses flags wherever they stand among the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func load(name string, stderr io.Writer) (policy.Policy, bool) {
	data, err := os.ReadFile(name)
	if err != nil {
		fmt.Fprintln(stderr, "ipgate:", err)
		return policy.Policy{}, false
	}
	p, err := policy.Decode(data)
	if err != nil {
		printErrors(stderr, err)
		return policy.Policy{}, false
	}
	return p, true
}

// printErrors prints each joined error on its own line.
func printErrors(w io.Writer, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			printErrors(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}

func runCheck(cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.Bool("admin", false, "the subject is an admin")
	mobile := fs.Bool("mobile", false, "the subject is a mobile client")
	at := fs.String("at", "", "the instant to decide at, RFC 3339 (default: now)")
	pos, err := parse(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 2 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	p, ok := load(pos[0], stderr)
	if !ok {
		return 2
	}
	addr, err := rangeset.ParseAddr(pos[1])
	if err != nil {
		fmt.Fprintln(stderr, "ipgate:", err)
		return 2
	}
	now, ok := instant(*at, stderr)
	if !ok {
		return 2
	}
	snap, err := check.Compile(p, now)
	if err != nil {
		printErrors(stderr, err)
		return 2
	}
	req := check.Request{Addr: addr, Admin: *admin, Mobile: *mobile, At: now}
	if cmd == "explain" {
		e := snap.Explain(req)
		fmt.Fprint(stdout, e)
		if !e.Decision.Allowed {
			return 1
		}
		return 0
	}
	d := snap.Check(req)
	verdict := "deny"
	if d.Allowed {
		verdict = "allow"
	}
	rule := d.Rule
	if rule == "" {
		rule = "-"
	}
	fmt.Fprintf(stdout, "%s rule=%s reason=%s\n", verdict, rule, d.Reason)
	if !d.Allowed {
		return 1
	}
	return 0
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "ipgate:", err)
		return 2
	}
	p, err := policy.Decode(data)
	if err != nil {
		printErrors(stdout, err)
		return 1
	}
	fmt.Fprintf(stdout, "ok: %d rules\n", len(p.Rules))
	return 0
}

func runImport(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "ipgate:", err)
		return 2
	}
	list, err := policy.ParseNginx(string(data))
	if err != nil {
		fmt.Fprintln(stderr, "ipgate:", err)
		return 1
	}
	// nginx lets through what no line matches.
	p, err := policy.FromOrdered(list, policy.DefaultAllow)
	if err != nil {
		fmt.Fprintln(stderr, "ipgate:", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		fmt.Fprintln(stderr, "ipgate:", err)
		return 2
	}
	return 0
}

// instant parses --at, defaulting to now.
func instant(at string, stderr io.Writer) (time.Time, bool) {
	if at == "" {
		return time.Now(), true
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		fmt.Fprintf(stderr, "ipgate: --at %q: want an RFC 3339 instant\n", at)
		return time.Time{}, false
	}
	return t, true
}

func runDiff(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	at := fs.String("at", "", "the instant to compare at, RFC 3339 (default: now)")
	pos, err := parse(fs, args)
	if err != nil || len(pos) != 2 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	now, ok := instant(*at, stderr)
	if !ok {
		return 2
	}
	var snaps [2]*check.Snapshot
	for i, name := range pos {
		p, ok := load(name, stderr)
		if !ok {
			return 2
		}
		if snaps[i], err = check.Compile(p, now); err != nil {
			printErrors(stderr, err)
			return 2
		}
	}
	changes := check.Diff(snaps[0], snaps[1], now)
	for _, c := range changes {
		fmt.Fprintf(stdout, "%s admin=%v mobile=%v: %v -> %v\n", c.Range, c.Admin, c.Mobile, c.Old, c.New)
	}
	if len(changes) > 0 {
		return 1
	}
	return 0
}

func runLint(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	at := fs.String("at", "", "the instant to lint at, RFC 3339 (default: now)")
	pos, err := parse(fs, args)
	if err != nil || len(pos) != 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	now, ok := instant(*at, stderr)
	if !ok {
		return 2
	}
	p, ok := load(pos[0], stderr)
	if !ok {
		return 2
	}
	ws, err := check.Lint(p, now, nil)
	if err != nil {
		printErrors(stderr, err)
		return 2
	}
	for _, w := range ws {
		fmt.Fprintln(stdout, w)
	}
	if len(ws) > 0 {
		return 1
	}
	return 0
}
