// Command ipgate checks addresses against a policy document, explains,
// validates, compares and lints policy documents, and imports nginx access
// lists.
//
//	ipgate check POLICY.json [ADDR|-] [-admin] [-mobile] [-at TIME] [-json]
//	ipgate explain POLICY.json ADDR [-admin] [-mobile] [-at TIME] [-json]
//	ipgate validate POLICY.json [-json]
//	ipgate diff OLD.json NEW.json [-at TIME] [-json]
//	ipgate lint POLICY.json [-at TIME] [-json]
//	ipgate import-nginx NGINX.conf
//	ipgate import-list FORMAT FILE|- [-source TAG] [-action allow|deny] [-service S] [-region R] [-key K]
//	ipgate export nginx|haproxy|nftables POLICY.json [-admin] [-mobile] [-at TIME] [-denied]
//	ipgate help [COMMAND]
//
// Run "ipgate help" for what each command prints, and "ipgate help
// COMMAND" (or "ipgate COMMAND -h") for its flags and exit codes. Every
// rule id and other text from the input that ipgate prints is quoted, so
// that no input can forge an output line; an error echoes at most 64 bytes
// of any one input.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/diff"
	"github.com/ipgate/ipgate/check/lint"
	"github.com/ipgate/ipgate/check/ordered"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// The exit codes.
const (
	exitOK  = 0 // allowed, valid, no changes, no warnings; help
	exitNo  = 1 // denied, invalid, changes, warnings
	exitBad = 2 // bad usage, an unreadable file, bad input
)

// maxLines is how many errors or warnings are printed; then how many more
// there were.
const maxLines = 100

const usage = `ipgate checks addresses against ipgate policy documents, explains, validates,
compares and lints them, and imports nginx access lists.

usage:
  ipgate check POLICY.json [ADDR|-] [-admin] [-mobile] [-at TIME] [-json]
  ipgate explain POLICY.json ADDR [-admin] [-mobile] [-at TIME] [-json]
  ipgate validate POLICY.json [-json]
  ipgate diff OLD.json NEW.json [-at TIME] [-json]
  ipgate lint POLICY.json [-at TIME] [-json]
  ipgate import-nginx NGINX.conf
  ipgate import-list FORMAT FILE|- [-source TAG] [-action allow|deny] [-service S] [-region R] [-key K]
  ipgate export nginx|haproxy|nftables POLICY.json [-admin] [-mobile] [-at TIME] [-denied]
  ipgate help [COMMAND]

commands:
  check         decide ADDR, or each address read from standard input
  explain       decide ADDR and list every rule whose target contains it
  validate      report every problem of a policy document
  diff          list every range whose decision differs between two policies
  lint          warn about rules that never win, duplicates and other smells
  import-nginx  turn nginx allow/deny directives into an equivalent policy
  import-list   turn a published list (FireHOL, Spamhaus, AWS, GitHub, ...) into rules
  export        write a policy's decisions as nginx, HAProxy or nftables lists
  help          print this, or the details of one command

exit codes:
  0  allowed, valid, no changes, no warnings (and help)
  1  denied, invalid, changes, warnings
  2  bad usage, an unreadable file, bad input (over 1 GiB too) or lost output

Run "ipgate help COMMAND" or "ipgate COMMAND -h" for its flags and details.
`

// command is one subcommand: its usage line, what it does and how it exits.
type command struct {
	name, args, about, exits string
	flags                    string // which of the shared flags it takes: a (subject and -at), t (-at), j (-json)
	run                      func(c *cli, pos []string) int
}

var commands = []*command{
	{name: "check", args: "POLICY.json [ADDR|-]", flags: "atj", run: (*cli).check,
		about: `Decides ADDR for the subject at the instant and prints one line:
"allow" or "deny", the rule that decided (quoted, or - for none) and the
reason, e.g. allow rule="office" reason=rule. With - or no ADDR, it reads
addresses from standard input, one per line (blank lines are skipped), and
prints one line per address, the address first; a line that is not an
address prints the line quoted and "error", and the error goes to
standard error. With -json it prints a JSON object per address instead,
one per line.`,
		exits: "0 every address allowed, 1 any denied, 2 bad usage, an unreadable or invalid policy, or a bad address"},
	{name: "explain", args: "POLICY.json ADDR", flags: "atj", run: (*cli).explain,
		about: `Decides ADDR as check does and prints the decision, then every rule whose
target contains the address, best first, with what became of it: winner,
beaten (by which rule, and why), expired (since when) or not applicable.`,
		exits: "0 allowed, 1 denied, 2 bad usage, an unreadable or invalid policy, or a bad address"},
	{name: "validate", args: "POLICY.json", flags: "j", run: (*cli).validate,
		about: `Decodes and validates a policy document and prints "FILE: ok: N rules",
or every problem, one per line, each after the file name and naming its
rule or key.`,
		exits: "0 valid, 1 invalid, 2 bad usage or an unreadable file"},
	{name: "diff", args: "OLD.json NEW.json", flags: "tj", run: (*cli).diff,
		about: `Prints every range of addresses whose decision differs between the two
policies at the instant, per subject, with both decisions, computed
exactly (not sampled).`,
		exits: "0 no changes, 1 changes, 2 bad usage, an unreadable or invalid policy"},
	{name: "lint", args: "POLICY.json", flags: "tj", run: (*cli).lint,
		about: `Prints warnings about a valid policy at the instant: rules that never win,
duplicates, rules covered by a broader one, allow rules wider than /8
(IPv4) or /32 (IPv6), expired rules, and an auto allowlist that deleting
one or two rules would turn into allow-all. A clean policy prints
"FILE: no warnings".`,
		exits: "0 no warnings, 1 warnings, 2 bad usage, an unreadable or invalid policy"},
	{name: "import-nginx", args: "NGINX.conf", run: (*cli).importNginx,
		about: `Reads nginx allow/deny directives and prints an order-free policy document
with exactly the same decisions (default action allow, as nginx lets
through what no directive matches). What nginx accepts with a change is
reported on standard error, naming the line: "unix:" skipped, host bits
masked.`,
		exits: "0 converted, 1 directives that cannot be converted, 2 bad usage or an unreadable file"},
	importListCmd, exportCmd, // lists.go
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// cli is one run of the command.
type cli struct {
	cmd            *command
	stdin          io.Reader
	stdout, stderr io.Writer
	admin, mobile  bool
	at             string
	json           bool
	now            time.Time // the instant, from -at or the clock
	ext            extFlags  // the flags of import-list and export
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	out := &errWriter{w: stdout}
	c := &cli{stdin: stdin, stdout: out, stderr: stderr}
	if f, ok := stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			c.stderr = &term{w: stderr} // progress may be shown
		}
	}
	code := c.dispatch(args)
	if out.err != nil {
		c.fail("writing the output: " + out.err.Error())
		return exitBad
	}
	return code
}

// dispatch runs the command args name.
func (c *cli) dispatch(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return exitBad
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" && args[1] != "help" {
			cmd := lookup(args[1])
			if cmd == nil {
				fmt.Fprintf(c.stderr, "ipgate: unknown command %s\n%s", rangeset.Quote(args[1]), usage)
				return exitBad
			}
			c.help(cmd, c.flagSet(cmd))
			return exitOK
		}
		fmt.Fprint(c.stdout, usage)
		return exitOK
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(c.stderr, "ipgate: unknown command %s\n%s", rangeset.Quote(args[0]), usage)
		return exitBad
	}
	c.cmd = cmd
	fs := c.flagSet(cmd)
	pos, err := parse(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		c.help(cmd, fs)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "ipgate %s: %s\nRun \"ipgate help %s\" for usage.\n", cmd.name, oneLine(err.Error()), cmd.name)
		return exitBad
	}
	if c.now, err = instant(c.at); err != nil {
		c.fail(err.Error())
		return exitBad
	}
	return cmd.run(c, pos)
}

// errWriter keeps the first error of its writer, and writes nothing after
// it: output that is lost makes the command fail.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// flagSet returns the flags of cmd, bound to c.
func (c *cli) flagSet(cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed by run, quoted
	if strings.Contains(cmd.flags, "a") {
		fs.BoolVar(&c.admin, "admin", false, "decide for an administrator: admin-only rules apply")
		fs.BoolVar(&c.mobile, "mobile", false, "decide for a mobile client")
	}
	if strings.ContainsAny(cmd.flags, "at") {
		fs.StringVar(&c.at, "at", "", "the instant to decide at, RFC 3339 (default: now)")
	}
	if strings.Contains(cmd.flags, "j") {
		fs.BoolVar(&c.json, "json", false, "print JSON, for scripts")
	}
	c.ext.bind(cmd, fs)
	fs.Usage = func() {} // run prints the help for -h, and errors itself
	return fs
}

// help prints the help of cmd on standard output.
func (c *cli) help(cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(c.stdout, "usage: ipgate %s %s", cmd.name, cmd.args)
	if cmd.flags != "" {
		fmt.Fprint(c.stdout, " [flags]")
	}
	fmt.Fprintf(c.stdout, "\n\n%s\n", cmd.about)
	if cmd.flags != "" {
		fmt.Fprint(c.stdout, "\nflags:\n")
		fs.SetOutput(c.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	fmt.Fprintf(c.stdout, "\nexit codes: %s\n", cmd.exits)
}

// usageError reports a wrong number of arguments.
func (c *cli) usageError() int {
	cm := c.cmd
	fmt.Fprintf(c.stderr, "usage: ipgate %s %s\nRun \"ipgate help %s\" for details.\n", cm.name, cm.args, cm.name)
	return exitBad
}

// parse parses flags wherever they stand among the positional arguments.
// A lone "-" is an argument.
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

// instant parses -at, defaulting to now.
func instant(at string) (time.Time, error) {
	if at == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	switch {
	case err != nil:
		return time.Time{}, errors.New("-at " + rangeset.Quote(at) + ": want an RFC 3339 instant such as 2026-01-01T00:00:00Z")
	case t.IsZero():
		return time.Time{}, errors.New("-at " + rangeset.Quote(at) + ": the zero instant, at which no policy is compiled")
	}
	return t, nil
}

// name returns a file name fit to print: as it is when it is short and
// plainly printable, else quoted, so that it cannot forge a line.
func name(s string) string {
	if len(s) <= 64 && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || r == '"' }) {
		return s
	}
	return rangeset.Quote(s)
}

// oneLine returns an error message as one line: escaped when it holds a
// control character, and cut when it is very long. The libraries quote
// the input they echo; this keeps that true of every line printed.
func oneLine(s string) string {
	if len(s) > 1024 {
		s = s[:1024] + "... (" + strconv.Itoa(len(s)) + " bytes)"
	}
	if strings.ContainsFunc(s, unicode.IsControl) || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return s
}

// fail prints an error on standard error.
func (c *cli) fail(msg string) { fmt.Fprintln(c.stderr, "ipgate: "+oneLine(msg)) }

// errorLines returns each error joined in err, at most maxLines of them
// and then how many more there were.
func errorLines(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		out = append(out, oneLine(err.Error()))
	}
	walk(err)
	if len(out) > maxLines {
		out = append(out[:maxLines], "... and "+strconv.Itoa(len(out)-maxLines)+" more")
	}
	return out
}

// maxInput is the most the command reads from one file or from standard
// input: beyond any policy or list it is meant for, short of what would
// exhaust a machine's memory.
const maxInput = 1 << 30

// errTooLarge reports an input larger than maxInput.
var errTooLarge = errors.New("larger than " + strconv.Itoa(maxInput>>20) + " MiB")

// capped reads r and fails with errTooLarge past maxInput bytes.
type capped struct {
	r io.Reader
	n int64 // bytes left
}

func (c *capped) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// At the cap: one more byte means too large.
		n, err := c.r.Read(make([]byte, 1))
		if n > 0 {
			err = errTooLarge
		}
		return 0, err
	}
	p = p[:min(int64(len(p)), c.n)]
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// read reads a file, at most maxInput bytes of it, reporting an error
// naming it.
func (c *cli) read(file string) ([]byte, bool) {
	f, err := os.Open(file)
	var data []byte
	if err == nil {
		data, err = io.ReadAll(&capped{r: f, n: maxInput})
		f.Close()
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		c.fail(name(file) + ": " + err.Error())
		return nil, false
	}
	return data, true
}

// load reads, decodes and compiles a policy at c.now, reporting every
// problem on standard error.
func (c *cli) load(file string) (policy.Policy, *check.Snapshot, bool) {
	data, ok := c.read(file)
	if !ok {
		return policy.Policy{}, nil, false
	}
	defer c.progress("loading " + name(file))()
	p, err := policy.Decode(data)
	if err == nil {
		var s *check.Snapshot
		if s, err = check.Compile(p, c.now); err == nil {
			return p, s, true
		}
	}
	for _, l := range errorLines(err) {
		fmt.Fprintln(c.stderr, "ipgate: "+name(file)+": "+l)
	}
	return policy.Policy{}, nil, false
}

// decisionJSON is a decision as -json prints it.
type decisionJSON struct {
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule,omitempty"`
	Reason  string `json:"reason"`
}

func decisionOf(d check.Decision) decisionJSON {
	return decisionJSON{Allowed: d.Allowed, Rule: d.Rule, Reason: d.Reason.String()}
}

// verdict returns a decision as check prints it: allow rule="office" reason=rule.
func verdict(d check.Decision) string {
	s, rule := "deny", "-"
	if d.Allowed {
		s = "allow"
	}
	if d.Rule != "" {
		rule = rangeset.Quote(d.Rule)
	}
	return s + " rule=" + rule + " reason=" + d.Reason.String()
}

func (c *cli) emit(v any) {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // a failed write is kept by the errWriter under c.stdout
}

// emitPolicy writes p as a document, streamed: the bytes emit would write.
func (c *cli) emitPolicy(file string, p policy.Policy) int {
	if _, err := p.WriteTo(c.stdout); err != nil {
		c.fail(name(file) + ": " + err.Error())
		return exitNo
	}
	return exitOK
}

func (c *cli) check(pos []string) int {
	if len(pos) < 1 || len(pos) > 2 {
		return c.usageError()
	}
	_, s, ok := c.load(pos[0])
	if !ok {
		return exitBad
	}
	if len(pos) == 2 && pos[1] != "-" {
		a, err := rangeset.ParseAddr(pos[1])
		if err != nil {
			c.fail(err.Error())
			return exitBad
		}
		d := s.Check(check.Request{Addr: a, Admin: c.admin, Mobile: c.mobile, At: c.now})
		if c.json { // one line, as for many addresses
			_ = json.NewEncoder(c.stdout).Encode(struct {
				Addr string `json:"addr"`
				decisionJSON
			}{a.String(), decisionOf(d)})
		} else {
			fmt.Fprintln(c.stdout, verdict(d))
		}
		if !d.Allowed {
			return exitNo
		}
		return exitOK
	}
	return c.batch(s)
}

// batch decides every address of standard input, one per line.
func (c *cli) batch(s *check.Snapshot) int {
	if f, ok := c.stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintln(c.stderr, "ipgate: reading addresses from standard input, one per line (end with Ctrl-D)")
		}
	}
	defer c.progress("checking")()
	code := exitOK
	out := bufio.NewWriter(c.stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(c.stdin)
	sc.Buffer(make([]byte, 4096), 64*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		a, err := rangeset.ParseAddr(line)
		if err != nil {
			code = exitBad
			out.Flush()
			c.fail("line " + strconv.Itoa(n) + ": " + err.Error())
			if c.json {
				_ = enc.Encode(struct {
					Line  int    `json:"line"`
					Error string `json:"error"`
				}{n, err.Error()})
			} else {
				fmt.Fprintln(out, rangeset.Quote(line), "error")
			}
			continue
		}
		d := s.Check(check.Request{Addr: a, Admin: c.admin, Mobile: c.mobile, At: c.now})
		if !d.Allowed && code == exitOK {
			code = exitNo
		}
		if c.json {
			_ = enc.Encode(struct {
				Addr string `json:"addr"`
				decisionJSON
			}{a.String(), decisionOf(d)})
		} else {
			fmt.Fprintln(out, a.String(), verdict(d))
		}
	}
	if err := sc.Err(); err != nil {
		out.Flush()
		c.fail("standard input: line " + strconv.Itoa(n+1) + ": " + err.Error())
		return exitBad
	}
	return code
}

func (c *cli) explain(pos []string) int {
	if len(pos) != 2 {
		return c.usageError()
	}
	_, s, ok := c.load(pos[0])
	if !ok {
		return exitBad
	}
	a, err := rangeset.ParseAddr(pos[1])
	if err != nil {
		c.fail(err.Error())
		return exitBad
	}
	e := s.Explain(check.Request{Addr: a, Admin: c.admin, Mobile: c.mobile, At: c.now})
	if c.json {
		type matchJSON struct {
			ID        string     `json:"id"`
			Target    string     `json:"target"`
			Action    string     `json:"action"`
			AdminOnly bool       `json:"adminOnly,omitempty"`
			Status    string     `json:"status"`
			By        string     `json:"by,omitempty"`
			Why       string     `json:"why,omitempty"`
			Since     *time.Time `json:"since,omitempty"`
		}
		v := struct {
			Addr string `json:"addr"`
			decisionJSON
			At      time.Time   `json:"at"`
			Matches []matchJSON `json:"matches"`
		}{Addr: a.String(), decisionJSON: decisionOf(e.Decision), At: e.At, Matches: []matchJSON{}}
		for _, m := range e.Matches {
			mj := matchJSON{ID: m.Rule.ID, Target: m.Rule.Target.String(), Action: m.Rule.Action.String(),
				AdminOnly: m.Rule.AdminOnly, Status: m.Status.String(), By: m.By, Why: m.Why}
			if m.Status == check.StatusExpired {
				mj.Since = &m.Since
			}
			v.Matches = append(v.Matches, mj)
		}
		c.emit(v)
	} else {
		fmt.Fprint(c.stdout, e)
	}
	if !e.Decision.Allowed {
		return exitNo
	}
	return exitOK
}

func (c *cli) validate(pos []string) int {
	if len(pos) != 1 {
		return c.usageError()
	}
	stop := c.progress("loading " + name(pos[0]))
	data, ok := c.read(pos[0])
	if !ok {
		stop()
		return exitBad
	}
	p, err := policy.Decode(data)
	stop()
	var lines []string
	if err != nil {
		lines = errorLines(err)
	}
	if c.json {
		c.emit(struct {
			File   string   `json:"file"`
			Valid  bool     `json:"valid"`
			Rules  int      `json:"rules"`
			Errors []string `json:"errors"`
		}{pos[0], err == nil, len(p.Rules), append([]string{}, lines...)})
	} else if err == nil {
		fmt.Fprintf(c.stdout, "%s: ok: %d rules\n", name(pos[0]), len(p.Rules))
	} else {
		for _, l := range lines {
			fmt.Fprintln(c.stdout, name(pos[0])+": "+l)
		}
	}
	if err != nil {
		return exitNo
	}
	return exitOK
}

func (c *cli) diff(pos []string) int {
	if len(pos) != 2 {
		return c.usageError()
	}
	var snaps [2]*check.Snapshot
	for i, file := range pos {
		var ok bool
		if _, snaps[i], ok = c.load(file); !ok {
			return exitBad
		}
	}
	stop := c.progress("comparing")
	changes := diff.Snapshots(snaps[0], snaps[1], c.now)
	stop()
	if c.json {
		type changeJSON struct {
			Range  string       `json:"range"`
			Admin  bool         `json:"admin"`
			Mobile bool         `json:"mobile"`
			Old    decisionJSON `json:"old"`
			New    decisionJSON `json:"new"`
		}
		v := struct {
			Changes []changeJSON `json:"changes"`
		}{[]changeJSON{}}
		for _, ch := range changes {
			v.Changes = append(v.Changes, changeJSON{ch.Range.String(), ch.Admin, ch.Mobile, decisionOf(ch.Old), decisionOf(ch.New)})
		}
		c.emit(v)
	} else {
		out := bufio.NewWriter(c.stdout)
		for _, ch := range changes {
			fmt.Fprintf(out, "%s admin=%v mobile=%v: %v -> %v\n", ch.Range, ch.Admin, ch.Mobile, ch.Old, ch.New)
		}
		out.Flush()
	}
	if len(changes) > 0 {
		return exitNo
	}
	return exitOK
}

func (c *cli) lint(pos []string) int {
	if len(pos) != 1 {
		return c.usageError()
	}
	p, _, ok := c.load(pos[0])
	if !ok {
		return exitBad
	}
	stop := c.progress("linting " + name(pos[0]))
	ws, err := lint.Policy(p, c.now, nil)
	stop()
	if err != nil {
		for _, l := range errorLines(err) {
			c.fail(name(pos[0]) + ": " + l)
		}
		return exitBad
	}
	if c.json {
		type warningJSON struct {
			Kind    string   `json:"kind"`
			Rules   []string `json:"rules"`
			Message string   `json:"message"`
		}
		v := struct {
			File     string        `json:"file"`
			Warnings []warningJSON `json:"warnings"`
		}{pos[0], []warningJSON{}}
		for _, w := range ws {
			v.Warnings = append(v.Warnings, warningJSON{string(w.Kind), w.Rules, w.Message})
		}
		c.emit(v)
	} else if len(ws) == 0 {
		fmt.Fprintln(c.stdout, name(pos[0])+": no warnings")
	} else {
		for _, w := range ws {
			fmt.Fprintln(c.stdout, oneLine(w.String()))
		}
	}
	if len(ws) > 0 {
		return exitNo
	}
	return exitOK
}

func (c *cli) importNginx(pos []string) int {
	if len(pos) != 1 {
		return c.usageError()
	}
	data, ok := c.read(pos[0])
	if !ok {
		return exitBad
	}
	list, warns, err := ordered.ParseNginx(string(data))
	if err != nil {
		c.fail(name(pos[0]) + ": " + err.Error())
		return exitNo
	}
	for i, w := range warns {
		if i == maxLines {
			c.fail(name(pos[0]) + ": ... and " + strconv.Itoa(len(warns)-maxLines) + " more warnings")
			break
		}
		c.fail(name(pos[0]) + ": " + w.String())
	}
	// nginx lets through what no directive matches.
	p, err := ordered.Policy(list, policy.DefaultAllow)
	if err != nil {
		c.fail(name(pos[0]) + ": " + err.Error())
		return exitNo
	}
	return c.emitPolicy(pos[0], p)
}

// progressDelay is how long work runs before progress is shown.
const progressDelay = time.Second

// progress shows, on standard error when it is a terminal, that the work
// labelled is still running once it has taken more than progressDelay.
// The returned function ends the work and clears the line.
func (c *cli) progress(label string) (stop func()) {
	t, ok := c.stderr.(*term)
	if !ok {
		return func() {}
	}
	return showProgress(t, label, progressDelay, 200*time.Millisecond)
}

// term is standard error when it is a terminal: a status line that other
// output clears before it is written, so that they do not mix.
type term struct {
	mu     sync.Mutex
	w      io.Writer
	status bool // a status line is shown
}

const clearLine = "\r\033[K"

// Write clears the status line, if any, and writes p.
func (t *term) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.status {
		t.status = false
		io.WriteString(t.w, clearLine) // a failed write to a terminal has nowhere to be reported
	}
	return t.w.Write(p)
}

// show replaces the status line with s, or clears it when s is empty.
func (t *term) show(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s != "" || t.status {
		io.WriteString(t.w, clearLine+s) // a failed write to a terminal has nowhere to be reported
	}
	t.status = s != ""
}

// showProgress shows "ipgate: label" and the time taken on t, rewritten
// every tick once delay has passed, until stop is called; stop clears the
// line and returns once nothing more will be written.
func showProgress(t *term, label string, delay, tick time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		timer := time.NewTimer(delay)
		defer timer.Stop()
		frames := `|/-\`
		for i := 0; ; i++ {
			select {
			case <-done:
				t.show("")
				return
			case <-timer.C:
				t.show(fmt.Sprintf("ipgate: %s %c %ds", label, frames[i%len(frames)], int(time.Since(start).Seconds())))
				timer.Reset(tick)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done); wg.Wait() })
	}
}
