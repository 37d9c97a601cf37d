package lists

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// Options say how the entries of a list become rules. A nil *Options,
// and a zero field, mean the defaults.
type Options struct {
	// Source is the tag the rules are named and commented with; "" means
	// the format's name: "plain", "spamhaus", "aws", "github",
	// "cloudflare" or "google".
	Source string
	// Action is what the rules do; zero means policy.Allow, except for
	// the spamhaus format, whose lists are of networks to drop: there it means
	// policy.Deny.
	Action policy.Action
	// Services, when not nil, keeps only the entries of one of these
	// services: the "service" of AWS (such as "EC2" or "CLOUDFRONT") and
	// of Google's cloud.json ("Google Cloud").
	Services []string
	// Regions, when not nil, keeps only the entries of one of these
	// regions: the "region" of AWS (such as "us-east-1") and the "scope"
	// of Google's cloud.json (such as "us-east1").
	Regions []string
	// Keys are the keys of GitHub's meta document whose arrays are read,
	// such as "hooks", "web", "api", "git" or "actions". The github format
	// needs them: every key would allow whatever runs on GitHub's hosted
	// Actions runners and Codespaces.
	Keys []string
}

// maxErrors is how many bad entries are reported before a count of the
// rest.
const maxErrors = 20

// maxComment bounds the text a rule's comment takes from a list line.
const maxComment = 200

// reader collects the rules of one list.
type reader struct {
	fn     string // "lists.Read: plain"
	source string
	action policy.Action
	opts   Options
	rules  []policy.Rule
	seen   map[rangeset.Range]bool
	errs   []error
	more   int // errors past maxErrors
}

func newReader(fn, format string, dflt policy.Action, opts *Options, filters string, r io.Reader) (*reader, []byte, error) {
	rd := &reader{fn: fn, source: format, action: dflt, seen: map[rangeset.Range]bool{}}
	if opts != nil {
		rd.opts = *opts
	}
	if rd.opts.Source != "" {
		rd.source = rd.opts.Source
	}
	if rd.opts.Action != 0 {
		if !rd.opts.Action.IsValid() {
			return nil, nil, errors.New(fn + ": invalid action " + rd.opts.Action.String())
		}
		rd.action = rd.opts.Action
	}
	// A filter the format has no field for would silently keep everything.
	for _, f := range []struct {
		name string
		set  bool
	}{{"Services", rd.opts.Services != nil}, {"Regions", rd.opts.Regions != nil}, {"Keys", rd.opts.Keys != nil}} {
		if f.set && !strings.Contains(filters, f.name) {
			return nil, nil, errors.New(fn + ": Options." + f.name + " does not apply to this format")
		}
	}
	// The options are checked before the input is read: a call that
	// cannot succeed reads nothing.
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", fn, err) // an *http.MaxBytesError stays one for errors.As
	}
	return rd, data, nil
}

// fail records a bad entry at where ("line 3", "prefixes[2].ip_prefix"),
// wrapping err so that errors.As finds its *rangeset.ParseError and
// errors.Is the exported rangeset sentinels.
func (rd *reader) fail(where string, err error) {
	if len(rd.errs) == maxErrors {
		rd.more++
		return
	}
	rd.errs = append(rd.errs, fmt.Errorf("%s: %s: %w", rd.fn, where, err))
}

// The families a field may hold.
const (
	any4or6 = iota
	only4
	only6
)

// add parses one entry of a field holding family fam and records its
// rule; detail goes in the comment.
func (rd *reader) add(where, text, detail string, fam int) {
	r, err := rangeset.ParseRange(text)
	if err != nil {
		rd.fail(where, err)
		return
	}
	if fam == only4 && !r.Is4() || fam == only6 && !r.Is6() {
		rd.fail(where, errors.New(rangeset.Quote(text)+" is not of the field's address family"))
		return
	}
	if rd.seen[r] {
		return
	}
	rd.seen[r] = true
	detail = commentText(detail)
	comment := rd.source
	if detail != "" {
		comment += ": " + detail
	}
	rd.rules = append(rd.rules, policy.Rule{ID: rd.source + ":" + r.String(), Target: r, Action: rd.action, Comment: comment})
}

// commentText returns a list line's text as a comment: valid UTF-8, with
// each character that is not printable a space (controls, format
// characters such as bidirectional overrides, line separators: nothing a
// terminal or a log reader acts on), cut after maxComment bytes at a
// character's start.
func commentText(s string) string {
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r // an invalid byte becomes U+FFFD
	}, s)
	if len(s) <= maxComment {
		return s
	}
	cut := maxComment
	for !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// result returns the rules, or every error recorded. A list without
// entries is an error: a cut or failed download must not pass for an
// empty list, which would drop every rule it fed.
func (rd *reader) result() ([]policy.Rule, error) {
	if len(rd.errs) > 0 {
		errs := rd.errs
		if rd.more > 0 {
			errs = append(errs, errors.New(rd.fn+": ... and "+strconv.Itoa(rd.more)+" more bad entries"))
		}
		return nil, errors.Join(errs...)
	}
	if len(rd.rules) == 0 {
		return nil, fmt.Errorf("%s: %w: the list has no entries", rd.fn, rangeset.ErrEmpty)
	}
	return rd.rules, nil
}

// unmatched reports the filter values that kept no entry: a misspelt
// region must not pass for an empty one.
func (rd *reader) unmatched(name string, want []string, used map[string]bool) {
	for _, w := range want {
		if !used[w] {
			rd.fail("Options."+name, errors.New("no entry has "+rangeset.Quote(w)))
		}
	}
}

// opens reports whether the first byte of data other than JSON white
// space is c.
func opens(data []byte, c byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && data[0] == c
}

// lines calls each with every line of data (its number counted from 1
// and its text without the line ending).
func lines(data []byte, each func(n int, line string)) {
	n := 0
	for line := range strings.Lines(string(data)) {
		n++
		each(n, strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"))
	}
}

// text reads a list of one entry per line, comments starting at sep.
func text(rd *reader, data []byte, sep string, detail func(n int, comment string) string) ([]policy.Rule, error) {
	lines(data, func(n int, line string) {
		entry, comment, _ := strings.Cut(line, sep)
		entry = strings.Trim(entry, " \t")
		if entry == "" {
			return
		}
		rd.add("line "+strconv.Itoa(n), entry, detail(n, strings.Trim(comment, " \t")), any4or6)
	})
	return rd.result()
}

// lineDetail names the line, and adds its comment when there is one.
func lineDetail(n int, comment string) string {
	d := "line " + strconv.Itoa(n)
	if comment != "" {
		d += " " + comment
	}
	return d
}

// Read reads a list published in the named format into rules, one per
// entry, as the package doc says. The formats:
//
//   - "plain": one address, CIDR prefix or range per line, as FireHOL's
//     netsets are written. "#" starts a comment, at the start of a line or
//     after an entry; blank lines are skipped. A rule's comment names its
//     line and carries the comment after the entry, if any.
//   - "spamhaus": a Spamhaus DROP or EDROP list, in the text form
//     "1.10.16.0/20 ; SBL256894": ";" starts a comment, at the start of a
//     line (the header) or after an entry (its SBL record, which becomes
//     the rule's comment). The JSON form is read too (drop_v4.json,
//     drop_v6.json), one object per line, {"cidr": "1.10.16.0/20",
//     "sblid": "SBL256894", ...}, the metadata line {"type": "metadata",
//     ...} skipped: input whose first character other than white space is
//     "{" is read so. The rules deny unless Options.Action says otherwise.
//   - "aws": Amazon's ip-ranges.json, the ip_prefix of each element of
//     "prefixes" and the ipv6_prefix of each element of "ipv6_prefixes",
//     filtered by Options.Services and Options.Regions. A rule's comment
//     gives the service and region, "aws: EC2 us-east-1". A document with
//     neither array is an error, and so is a filter value that no entry
//     has.
//   - "github": GitHub's meta API document (https://api.github.com/meta),
//     the CIDR prefixes of the keys in Options.Keys. A rule's comment names
//     the key it came from first, "github: hooks". No Options.Keys is an
//     error naming the document's arrays, as is a key asked for that the
//     document lacks or whose value is not an array of strings.
//   - "cloudflare": Cloudflare's published ranges, the text files ips-v4
//     and ips-v6 (https://www.cloudflare.com/ips-v4), one CIDR per line,
//     read as "plain" is, or the JSON of the API
//     (https://api.cloudflare.com/client/v4/ips), the arrays
//     result.ipv4_cidrs and result.ipv6_cidrs. Input whose first character
//     other than white space is "{" is read as JSON. A JSON answer with
//     "success" false is an error.
//   - "google": Google's goog.json (the ranges of Google's services) or
//     cloud.json (those of Google Cloud's customers), the ipv4Prefix or
//     ipv6Prefix of each element of "prefixes", the second filtered by
//     Options.Services ("service") and Options.Regions ("scope"). A rule's
//     comment gives the service and scope when there are any, "google:
//     Google Cloud us-east1". An element with neither prefix, or both, is
//     an error.
//
// Any other format is an error naming it. An option the format does not
// use (Regions for "plain") is an error too.
func Read(r io.Reader, format string, opts *Options) ([]policy.Rule, error) {
	switch format {
	case "plain":
		return plain(r, opts)
	case "spamhaus":
		return spamhaus(r, opts)
	case "aws":
		return aws(r, opts)
	case "github":
		return github(r, opts)
	case "cloudflare":
		return cloudflare(r, opts)
	case "google":
		return google(r, opts)
	}
	return nil, errors.New("lists.Read: unknown format " + rangeset.Quote(format) + " (want plain, spamhaus, aws, github, cloudflare or google)")
}

// plain reads the "plain" format (see [Read]).
func plain(r io.Reader, opts *Options) ([]policy.Rule, error) {
	rd, data, err := newReader("lists.Read: plain", "plain", policy.Allow, opts, "", r)
	if err != nil {
		return nil, err
	}
	return text(rd, data, "#", lineDetail)
}

// spamhaus reads the "spamhaus" format (see [Read]).
func spamhaus(r io.Reader, opts *Options) ([]policy.Rule, error) {
	rd, data, err := newReader("lists.Read: spamhaus", "spamhaus", policy.Deny, opts, "", r)
	if err != nil {
		return nil, err
	}
	if !opens(data, '{') {
		return text(rd, data, ";", func(n int, comment string) string {
			if comment != "" {
				return comment
			}
			return "line " + strconv.Itoa(n)
		})
	}
	entries, metadata := 0, false
	var records *int // the metadata line's count, if it gives one
	lines(data, func(n int, line string) {
		if strings.Trim(line, " \t") == "" {
			return
		}
		where := "line " + strconv.Itoa(n)
		var rec struct {
			Type    string  `json:"type"`
			CIDR    *string `json:"cidr"`
			SBLID   string  `json:"sblid"`
			Records *int    `json:"records"`
		}
		err := unmarshal([]byte(line), "not a JSON object", &rec, "type", "cidr", "sblid", "records")
		if err != nil || rec.Type != "metadata" {
			entries++ // a bad line too, so that only the bad line is reported
		}
		switch {
		case err != nil:
			rd.fail(where, err)
		case rec.Type == "metadata" && metadata:
			rd.fail(where, errors.New("a second metadata line"))
		case rec.Type == "metadata":
			metadata, records = true, rec.Records
		case rec.CIDR == nil:
			rd.fail(where, errors.New("no \"cidr\""))
		default:
			rd.add(where, *rec.CIDR, rec.SBLID, any4or6)
		}
	})
	// The metadata line comes last and counts the entries: a list cut
	// short lacks it or holds fewer.
	switch {
	case !metadata:
		rd.fail("metadata", errors.New("no metadata line, and the list holds "+strconv.Itoa(entries)+": it is cut short or damaged"))
	case records != nil && *records != entries:
		rd.fail("metadata", errors.New("the metadata line counts "+strconv.Itoa(*records)+" records, and the list holds "+strconv.Itoa(entries)+": it is cut short or damaged"))
	}
	return rd.result()
}

// decode reads a JSON document into v (see unmarshal).
func decode(rd *reader, data []byte, v any, known ...string) error {
	if err := unmarshal(data, "not a JSON document of this format", v, known...); err != nil {
		return errors.New(rd.fn + ": " + err.Error())
	}
	return nil
}

// unmarshal decodes data into v, refusing an object that holds a key
// twice or a key that differs from one of known, the keys v reads, only
// in letter case: encoding/json would take the last of them, or the
// variant, silently, where a reader of the document sees another.
// Malformed JSON is an error saying what, the data is not.
func unmarshal(data []byte, what string, v any, known ...string) error {
	if err := json.Unmarshal(data, v); err != nil {
		// A type error names the field, not the element: its offset
		// finds the element.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errors.New(what + ": " + err.Error() + " (at byte " + strconv.FormatInt(te.Offset, 10) + ")")
		}
		return errors.New(what + ": " + err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var objects []map[string]bool // the keys seen, by open object; nil for an array
	key := false                  // whether the next token is a key
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF: json.Unmarshal has read it whole
		}
		if k, ok := tok.(string); ok && key {
			seen := objects[len(objects)-1]
			if seen[k] {
				return errors.New("the key " + rangeset.Quote(k) + " appears twice in an object")
			}
			seen[k] = true
			if i := slices.IndexFunc(known, func(w string) bool { return strings.EqualFold(w, k) }); i >= 0 && known[i] != k {
				return errors.New("the key " + rangeset.Quote(k) + " is " + rangeset.Quote(known[i]) + " in other letters")
			}
			key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			objects, key = append(objects, map[string]bool{}), true
			continue
		case json.Delim('['):
			objects = append(objects, nil)
		case json.Delim('}'), json.Delim(']'):
			objects = objects[:len(objects)-1]
		}
		// A value has ended, or an array begun: in an object, a key is next.
		key = len(objects) > 0 && objects[len(objects)-1] != nil
	}
}

// keep reports whether an entry passes the Services and Regions filters,
// and records which filter values matched.
func keep(rd *reader, service, region string, usedS, usedR map[string]bool) bool {
	if rd.opts.Services != nil && !slices.Contains(rd.opts.Services, service) {
		return false
	}
	if rd.opts.Regions != nil && !slices.Contains(rd.opts.Regions, region) {
		return false
	}
	usedS[service], usedR[region] = true, true
	return true
}

// aws reads the "aws" format (see [Read]).
func aws(r io.Reader, opts *Options) ([]policy.Rule, error) {
	rd, data, err := newReader("lists.Read: aws", "aws", policy.Allow, opts, "Services Regions", r)
	if err != nil {
		return nil, err
	}
	type entry struct {
		IPPrefix   *string `json:"ip_prefix"`
		IPv6Prefix *string `json:"ipv6_prefix"`
		Region     string  `json:"region"`
		Service    string  `json:"service"`
	}
	var doc struct {
		Prefixes     *[]entry `json:"prefixes"`
		IPv6Prefixes *[]entry `json:"ipv6_prefixes"`
	}
	if err := decode(rd, data, &doc, "prefixes", "ipv6_prefixes", "ip_prefix", "ipv6_prefix", "region", "service"); err != nil {
		return nil, err
	}
	if doc.Prefixes == nil && doc.IPv6Prefixes == nil {
		return nil, errors.New(rd.fn + ": no \"prefixes\" or \"ipv6_prefixes\": not an ip-ranges.json document")
	}
	usedS, usedR := map[string]bool{}, map[string]bool{}
	for _, list := range []struct {
		key, field string
		fam        int
		entries    *[]entry
	}{{"prefixes", "ip_prefix", only4, doc.Prefixes}, {"ipv6_prefixes", "ipv6_prefix", only6, doc.IPv6Prefixes}} {
		if list.entries == nil {
			continue
		}
		for i, e := range *list.entries {
			where := list.key + "[" + strconv.Itoa(i) + "]." + list.field
			p := e.IPPrefix
			if list.field == "ipv6_prefix" {
				p = e.IPv6Prefix
			}
			if p == nil {
				rd.fail(where, errors.New("missing"))
				continue
			}
			if keep(rd, e.Service, e.Region, usedS, usedR) {
				rd.add(where, *p, strings.TrimSpace(e.Service+" "+e.Region), list.fam)
			}
		}
	}
	rd.unmatched("Services", rd.opts.Services, usedS)
	rd.unmatched("Regions", rd.opts.Regions, usedR)
	return rd.result()
}

// github reads the "github" format (see [Read]).
func github(r io.Reader, opts *Options) ([]policy.Rule, error) {
	rd, data, err := newReader("lists.Read: github", "github", policy.Allow, opts, "Keys", r)
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := decode(rd, data, &doc); err != nil {
		return nil, err
	}
	if rd.opts.Keys == nil {
		var arrays []string
		for k, v := range doc {
			if k != "ssh_keys" && opens(v, '[') {
				arrays = append(arrays, rangeset.Quote(k))
			}
		}
		if len(arrays) == 0 {
			return nil, errors.New(rd.fn + ": no arrays of prefixes: not a meta API document")
		}
		slices.Sort(arrays)
		return nil, errors.New(rd.fn + ": no Options.Keys: choose among " + strings.Join(arrays, ", "))
	}
	for _, k := range rd.opts.Keys {
		raw, ok := doc[k]
		if !ok {
			rd.fail("Options.Keys", errors.New("the document has no key "+rangeset.Quote(k)))
			continue
		}
		var cidrs []string
		if err := json.Unmarshal(raw, &cidrs); err != nil || !opens(raw, '[') {
			rd.fail(rangeset.Quote(k), errors.New("not an array of strings"))
			continue
		}
		for i, c := range cidrs {
			rd.add(rangeset.Quote(k)+"["+strconv.Itoa(i)+"]", c, k, any4or6)
		}
	}
	return rd.result()
}

// cloudflare reads the "cloudflare" format (see [Read]).
func cloudflare(r io.Reader, opts *Options) ([]policy.Rule, error) {
	rd, data, err := newReader("lists.Read: cloudflare", "cloudflare", policy.Allow, opts, "", r)
	if err != nil {
		return nil, err
	}
	if !opens(data, '{') {
		return text(rd, data, "#", lineDetail)
	}
	var doc struct {
		Success *bool `json:"success"`
		Result  *struct {
			IPv4 []string `json:"ipv4_cidrs"`
			IPv6 []string `json:"ipv6_cidrs"`
		} `json:"result"`
	}
	if err := decode(rd, data, &doc, "success", "result", "ipv4_cidrs", "ipv6_cidrs"); err != nil {
		return nil, err
	}
	if doc.Success != nil && !*doc.Success {
		return nil, errors.New(rd.fn + ": the API answered \"success\": false")
	}
	if doc.Result == nil {
		return nil, errors.New(rd.fn + ": no \"result\": not an answer of the ips API")
	}
	for _, list := range []struct {
		key   string
		fam   int
		cidrs []string
	}{{"ipv4_cidrs", only4, doc.Result.IPv4}, {"ipv6_cidrs", only6, doc.Result.IPv6}} {
		for i, c := range list.cidrs {
			rd.add("result."+list.key+"["+strconv.Itoa(i)+"]", c, list.key, list.fam)
		}
	}
	return rd.result()
}

// google reads the "google" format (see [Read]).
func google(r io.Reader, opts *Options) ([]policy.Rule, error) {
	rd, data, err := newReader("lists.Read: google", "google", policy.Allow, opts, "Services Regions", r)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Prefixes *[]struct {
			IPv4    *string `json:"ipv4Prefix"`
			IPv6    *string `json:"ipv6Prefix"`
			Service string  `json:"service"`
			Scope   string  `json:"scope"`
		} `json:"prefixes"`
	}
	if err := decode(rd, data, &doc, "prefixes", "ipv4Prefix", "ipv6Prefix", "service", "scope"); err != nil {
		return nil, err
	}
	if doc.Prefixes == nil {
		return nil, errors.New(rd.fn + ": no \"prefixes\": not a goog.json or cloud.json document")
	}
	usedS, usedR := map[string]bool{}, map[string]bool{}
	for i, e := range *doc.Prefixes {
		where := "prefixes[" + strconv.Itoa(i) + "]"
		var p string
		var fam int
		switch {
		case e.IPv4 != nil && e.IPv6 == nil:
			p, fam, where = *e.IPv4, only4, where+".ipv4Prefix"
		case e.IPv6 != nil && e.IPv4 == nil:
			p, fam, where = *e.IPv6, only6, where+".ipv6Prefix"
		default:
			rd.fail(where, errors.New("want one of ipv4Prefix and ipv6Prefix"))
			continue
		}
		if keep(rd, e.Service, e.Scope, usedS, usedR) {
			rd.add(where, p, strings.TrimSpace(e.Service+" "+e.Scope), fam)
		}
	}
	rd.unmatched("Services", rd.opts.Services, usedS)
	rd.unmatched("Regions", rd.opts.Regions, usedR)
	return rd.result()
}
