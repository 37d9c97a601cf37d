package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"

	"github.com/ipgate/ipgate/check/export"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/policy/lists"
	"github.com/ipgate/ipgate/rangeset"
)

// The commands on published lists and exports: import-list and export.
var (
	importListCmd = &command{name: "import-list", args: "FORMAT FILE|-", flags: "l", run: (*cli).importList,
		about: `Reads a published address list and prints a policy document of its
entries, one rule each, named SOURCE:TARGET (such as "aws:3.5.140.0/22")
and commented with where the entry came from. FORMAT is one of
  plain       one address, CIDR or range per line, # comments (FireHOL netsets)
  spamhaus    Spamhaus DROP and EDROP, text or JSON (the rules deny)
  aws         ip-ranges.json, filtered with -service and -region
  github      the meta API document, the arrays of the keys given with -key
  cloudflare  ips-v4 and ips-v6, or the JSON of the API
  google      goog.json and cloud.json (-service and -region filter cloud.json)
FILE - reads standard input. A CIDR with host bits set is an error naming
its line, as is every entry that is not an address, CIDR or range.`,
		exits: "0 imported, 1 entries that cannot be imported, 2 bad usage or an unreadable file"}
	exportCmd = &command{name: "export", args: "FORMAT POLICY.json", flags: "ax", run: (*cli).export,
		about: `Prints the decisions of a policy for the subject at the instant, exactly,
in another tool's form. FORMAT is one of
  nginx     allow and deny directives, then "allow all;" or "deny all;"
  haproxy   an ACL file of the addresses allowed (with -denied, denied), IPv4
            ones in IPv4-mapped form: acl ipgate_allow src -n -f FILE
  nftables  the sets ipgate_allow (ipv4_addr) and ipgate_allow6 (ipv6_addr),
            with flags interval (with -denied, ipgate_deny and ipgate_deny6)
The output holds until the next rule expiry after the instant, which its
header comment names.`,
		exits: "0 exported, 2 bad usage, an unreadable or invalid policy"}
)

// extFlags are the flags of import-list and export.
type extFlags struct {
	source, action, services, regions, keys string
	denied                                  bool
}

// bind adds the flags of cmd (letters l and x) to fs.
func (e *extFlags) bind(cmd *command, fs *flag.FlagSet) {
	if strings.Contains(cmd.flags, "l") {
		fs.StringVar(&e.source, "source", "", "the source tag of the rules (default: the format's name)")
		fs.StringVar(&e.action, "action", "", "allow or deny (default: deny for spamhaus, else allow)")
		fs.StringVar(&e.services, "service", "", "aws, google: keep only these services, comma-separated")
		fs.StringVar(&e.regions, "region", "", "aws, google: keep only these regions (scopes), comma-separated")
		fs.StringVar(&e.keys, "key", "", "github: read these keys, comma-separated (required: such as hooks, or web,api,git)")
	}
	if strings.Contains(cmd.flags, "x") {
		fs.BoolVar(&e.denied, "denied", false, "haproxy, nftables: list the addresses denied, not those allowed")
	}
}

// split returns a comma-separated flag as a list; "" is nil, no filter.
func split(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.Split(s, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// listFormats are the formats lists.Read reads, checked before the list
// is opened, so that a mistyped format is a usage error.
var listFormats = []string{"plain", "spamhaus", "aws", "github", "cloudflare", "google"}

func (c *cli) importList(pos []string) int {
	if len(pos) != 2 {
		return c.usageError()
	}
	format := pos[0]
	if !slices.Contains(listFormats, format) {
		c.fail("import-list: unknown format " + rangeset.Quote(pos[0]) + " (want plain, spamhaus, aws, github, cloudflare or google)")
		return exitBad
	}
	opts := &lists.Options{Source: c.ext.source, Services: split(c.ext.services), Regions: split(c.ext.regions), Keys: split(c.ext.keys)}
	if c.ext.action != "" {
		if err := opts.Action.UnmarshalText([]byte(c.ext.action)); err != nil {
			c.fail("-action " + rangeset.Quote(c.ext.action) + ": want allow or deny")
			return exitBad
		}
	}
	file := pos[1]
	var in io.Reader = &capped{r: c.stdin, n: maxInput}
	if file == "-" {
		file = "standard input"
	} else {
		data, ok := c.read(file)
		if !ok {
			return exitBad
		}
		in = bytes.NewReader(data)
	}
	rules, err := lists.Read(in, format, opts)
	if err != nil {
		for _, l := range errorLines(err) {
			c.fail(name(file) + ": " + l)
		}
		if errors.Is(err, errTooLarge) {
			return exitBad
		}
		return exitNo
	}
	return c.emitPolicy(file, policy.New(rules...))
}

// exportFormats are the formats export.Write writes, checked before the
// policy is loaded, so that a mistyped format is a usage error.
var exportFormats = []string{"nginx", "haproxy", "nftables"}

func (c *cli) export(pos []string) int {
	if len(pos) != 2 {
		return c.usageError()
	}
	format := pos[0]
	if !slices.Contains(exportFormats, format) {
		c.fail("export: unknown format " + rangeset.Quote(pos[0]) + " (want nginx, haproxy or nftables)")
		return exitBad
	}
	_, s, ok := c.load(pos[1])
	if !ok {
		return exitBad
	}
	if err := export.Write(c.stdout, s, format, &export.Options{Admin: c.admin, Mobile: c.mobile, At: c.now, Denied: c.ext.denied}); err != nil {
		c.fail(err.Error())
		return exitBad
	}
	return exitOK
}
