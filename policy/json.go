package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/ipgate/ipgate/rangeset"
)

// Document problems, wrapped by [*DocError]. Like the validation problems
// of policy.go they are unexported; the message says what is wrong.
var (
	// errSyntax reports malformed JSON or data after the document.
	errSyntax = errors.New("malformed JSON")
	// errUnknownKey reports a key the document form does not have; keys
	// compare exactly, letter case included.
	errUnknownKey = errors.New("unknown key")
	// errDuplicateKey reports a key given twice in one object.
	errDuplicateKey = errors.New("duplicate key")
	// errNull reports null where a value is required.
	errNull = errors.New("null where a value is required")
	// errType reports a value of the wrong JSON type or form.
	errType = errors.New("wrong type")
)

// DocError reports a policy or rule document that is not in the strict
// form: malformed JSON, an unknown key (keys compare exactly, letter case
// included), a duplicate key, a misplaced null or a value of the wrong type.
// errors.As to a *DocError tells where (Path); its message says what, e.g.
// "malformed JSON: ...", "unknown key", "duplicate key", "null where a
// value is required" or "wrong type: ...".
type DocError struct {
	// Path names the offending key, e.g. "rules[2].adminOnly"; empty for
	// the document itself. A key that is not a plain identifier is quoted
	// as by [rangeset.Quote], so Path holds no control characters and at
	// most about 64 bytes of the key.
	Path string
	// Err says what is wrong.
	Err error
}

// Error returns "policy document: PATH: problem".
func (e *DocError) Error() string {
	if e.Path == "" {
		return "policy document: " + e.Err.Error()
	}
	return "policy document: " + e.Path + ": " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *DocError) Unwrap() error { return e.Err }

var (
	settingKeys = []string{"enabled", "defaultAction", "precedence", "applyToMobile", "rules"}
	ruleKeys    = []string{"id", "ip", "from", "to", "action", "adminOnly", "createdAt", "updatedAt", "ttl", "expiresAt", "comment"}
)

// The indices of settingKeys and ruleKeys.
const (
	keyEnabled = iota
	keyDefaultAction
	keyPrecedence
	keyApplyToMobile
	keyRules
)

const (
	keyID = iota
	keyIP
	keyFrom
	keyTo
	keyAction
	keyAdminOnly
	keyCreatedAt
	keyUpdatedAt
	keyTTL
	keyExpiresAt
	keyComment
)

// keyIndex returns the index of key in keys, or -1. It does not allocate.
func keyIndex(keys []string, key []byte) int {
	for i, k := range keys {
		if string(key) == k {
			return i
		}
	}
	return -1
}

// keyText returns key as a path shows it: as it is when it is a short
// plain identifier, else quoted (and cut) by [rangeset.Quote].
func keyText(key string) string {
	if key == "" || len(key) > 64 {
		return rangeset.Quote(key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || i > 0 && '0' <= c && c <= '9') {
			return rangeset.Quote(key)
		}
	}
	return key
}

// clip returns s, cut to about 64 bytes as [rangeset.Quote] cuts, for text
// that needs no quotes (a number).
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return rangeset.Quote(s)
}

// Decode parses a policy document (the object form of the shared vectors'
// README): settings keys, each optional with the defaults of
// [DefaultSettings], and "rules", each rule with "ip" (single, CIDR or range
// text) or "from" and "to". Decoding is strict: any deviation is a
// [*DocError] naming the key, and inside a rule it is wrapped in a
// [*RuleError] naming the rule. Null is accepted only for "comment",
// "createdAt" and "updatedAt", where it means absent (as does an empty
// "createdAt" or "updatedAt"). The decoded policy is then validated as
// [Policy.Validate] does, the errors speaking of JSON keys, and every
// problem of a rule or of a setting's value is reported at once (the
// error unwraps to the first 10,000; its text lists the first 100, then
// counts the rest). An "expiresAt" at the zero instant
// 0001-01-01T00:00:00Z (however written) is refused ("zero instant"),
// since a [Rule]'s zero ExpiresAt means no expiry; so is a zero-instant
// "updatedAt" or "createdAt" that a "ttl" counts from. On error the
// returned Policy is the zero Policy.
//
// Decode reads data once and allocates little beyond the policy itself.
func Decode(data []byte) (Policy, error) {
	d := decoder{s: scanner{buf: data}}
	n := estimate(bytes.Count(data, []byte{'{'}), bytes.Count(data, []byte{'"'}), len(data))
	d.p.Rules = make([]Rule, 0, n)
	d.ids = newIDHashes(n)
	return d.policy()
}

// estimate bounds the number of rules in a document of size bytes, with
// the given numbers of '{' and '"': a rule is an object of at least 12
// quotes and 37 bytes, the size of {"id":"a","ip":"::","action":"deny"}
// with its comma. The quotes keep a long string of braces from counting.
// Too low an estimate costs a copy of the rules at the end, too high one
// its memory.
func estimate(braces, quotes, size int) int {
	return min(braces, quotes/12+1, size/37+1)
}

// DecodeReader decodes the policy document that r holds, exactly as
// [Decode] does, through a buffer that holds the token being read (64 KiB,
// unless a string is longer): the document is never held whole in memory.
// When r is an [io.Seeker] that can seek (a file), DecodeReader first
// counts the braces and quotes in the rest of r and seeks back, so that
// the rules are held once, in a slice of the right size. An error from r, other
// than io.EOF, is returned as it is, in place of any problem with the
// document; so is [io.ErrNoProgress] when r returns neither data nor an
// error 100 times in a row.
func DecodeReader(r io.Reader) (Policy, error) {
	d := decoder{s: scanner{r: r, buf: make([]byte, 0, readChunk)}}
	if n, ok := countRules(r, d.s.buf[:readChunk]); ok {
		d.p.Rules = make([]Rule, 0, n)
	}
	d.ids = newIDHashes(cap(d.p.Rules))
	p, err := d.policy()
	if d.s.rerr != nil {
		return Policy{}, d.s.rerr
	}
	return p, err
}

// countRules estimates the number of rules in the rest of r, as [Decode]
// does, when r can seek back to where it is: so that the rules of a file
// are decoded into a slice of the right size, instead of into chunks
// copied at the end, which would hold them twice. It reports false, with
// r where it was, when it cannot tell.
func countRules(r io.Reader, buf []byte) (int, bool) {
	rs, ok := r.(io.ReadSeeker)
	if !ok {
		return 0, false
	}
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false
	}
	braces, quotes, size, empty := 0, 0, 0, 0
	for {
		n, err := rs.Read(buf)
		braces += bytes.Count(buf[:n], []byte{'{'})
		quotes += bytes.Count(buf[:n], []byte{'"'})
		size += n
		if n > 0 {
			empty = 0
		} else if empty++; empty == maxEmptyReads {
			err = io.ErrNoProgress // the decode that follows meets it too
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			_, _ = rs.Seek(start, io.SeekStart)
			return 0, false
		}
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return 0, false
	}
	return estimate(braces, quotes, size), true
}

// UnmarshalJSON implements [json.Unmarshaler] with [Decode].
func (p *Policy) UnmarshalJSON(data []byte) error {
	q, err := Decode(data)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// UnmarshalJSON implements [json.Unmarshaler]: it parses one rule
// document, strictly as [Decode] does, and validates the rule on its own
// (uniqueness of ids is a policy's concern). On error r is unchanged.
// Through json.Unmarshal, text that is not JSON at all is refused first by
// encoding/json, with its *json.SyntaxError; called directly, UnmarshalJSON
// reports it as a [*DocError].
func (r *Rule) UnmarshalJSON(data []byte) error {
	d := decoder{s: scanner{buf: data}}
	var q Rule
	err := d.rule(-1, &q)
	if err == nil {
		err = d.end()
	}
	if err == nil {
		err = d.probs.err()
	}
	if err != nil {
		return err
	}
	*r = q
	return nil
}

// decoder reads one policy or rule document and validates it as it goes.
type decoder struct {
	s     scanner
	p     Policy
	probs problems
	ids   idHashes
	// The target text of the rule being read, copied out of the scanner's
	// buffer, which may move before the rule's end.
	ip, from, to []byte
	// full holds the filled chunks of rules, when there are more than the
	// estimate, if any; d.p.Rules is then the chunk being filled.
	full  [][]Rule
	nfull int // the number of rules in full
	mem   arena
	// unread says that the last value read was an object or array, of which
	// only the kind was read.
	unread bool
}

// ruleChunk is how many rules a chunk holds at most when their number is
// not known; the first chunks are smaller, for small documents.
const ruleChunk = 4096

// idOf returns the id of rule i, which has been read. (It is called only
// for an id whose hash an earlier id has.)
func (d *decoder) idOf(i int) string {
	for _, c := range d.full {
		if i < len(c) {
			return c[i].ID
		}
		i -= len(c)
	}
	return d.p.Rules[i].ID
}

// policy reads a policy document.
func (d *decoder) policy() (Policy, error) {
	s := &d.s
	d.p.Settings = DefaultSettings()
	if err := d.open("", kindObject); err != nil {
		return Policy{}, err
	}
	var seen uint8
	for more := d.first('}'); more; {
		if s.peek() != '"' {
			return Policy{}, s.syntaxError("", "looking for beginning of object key string")
		}
		key, err := s.readString("")
		if err != nil {
			return Policy{}, err
		}
		k := keyIndex(settingKeys, key)
		switch {
		case k < 0:
			return Policy{}, &DocError{Path: keyText(string(key)), Err: unknownKey(key, settingKeys)}
		case seen&(1<<k) != 0:
			return Policy{}, &DocError{Path: settingKeys[k], Err: errDuplicateKey}
		}
		seen |= 1 << k
		path := settingKeys[k]
		if err := s.expect(path, ':', "after object key"); err != nil {
			return Policy{}, err
		}
		switch k {
		case keyEnabled:
			d.p.Settings.Enabled, err = d.boolean(path)
		case keyApplyToMobile:
			d.p.Settings.ApplyToMobile, err = d.boolean(path)
		case keyDefaultAction:
			err = d.enum(path, &d.p.Settings.DefaultAction)
		case keyPrecedence:
			err = d.enum(path, (*precedence)(&d.p.Settings.DenyOverrides))
		case keyRules:
			err = d.rules()
		}
		if err != nil {
			return Policy{}, err
		}
		if more, err = d.next("", '}', "after object key:value pair"); err != nil {
			return Policy{}, err
		}
	}
	if err := d.end(); err != nil {
		return Policy{}, err
	}
	d.probs.addDuplicates(d.ids.duplicates(d.idOf))
	if err := d.probs.err(); err != nil {
		return Policy{}, err
	}
	p := d.p
	if d.full != nil {
		all := make([]Rule, 0, d.nfull+len(p.Rules))
		for i, c := range d.full {
			all = append(all, c...)
			d.full[i] = nil // for the collector, while the rest is copied
		}
		p.Rules = append(all, p.Rules...)
	}
	switch {
	case len(p.Rules) == 0:
		p.Rules = nil
	case cap(p.Rules) > len(p.Rules)+len(p.Rules)/4+16:
		p.Rules = append([]Rule(nil), p.Rules...) // the estimate was far off
	}
	return p, nil
}

// open reads the start of a value that must be of kind want (an object or
// an array), or fails as the old token-based decoder did: null is errNull,
// a scalar is read and then refused, a container is refused at once.
func (d *decoder) open(path string, want kind) error {
	s := &d.s
	k := kindOf(s.peek())
	switch k {
	case want:
		s.pos++
		return nil
	case kindNone:
		return s.syntaxError(path, "looking for beginning of value")
	case kindObject, kindArray:
		return typeError(path, want.describe(), k)
	}
	t, err := s.scalar(path, k)
	if err != nil {
		return err
	}
	if t.kind == kindNull {
		return &DocError{Path: path, Err: errNull}
	}
	return typeError(path, want.describe(), t.kind)
}

// first reports whether an object or array just opened has a first
// member, reading its close if not.
func (d *decoder) first(close byte) bool {
	s := &d.s
	if s.peek() == close {
		s.pos++
		return false
	}
	return true
}

// next reads the separator after a member: a comma (true) or close
// (false).
func (d *decoder) next(path string, close byte, what string) (bool, error) {
	s := &d.s
	switch s.peek() {
	case ',':
		s.pos++
		return true, nil
	case close:
		s.pos++
		return false, nil
	}
	return false, s.syntaxError(path, what)
}

// end checks that nothing but white space follows the document.
func (d *decoder) end() error {
	s := &d.s
	if s.skipSpace() {
		return &DocError{Err: fmt.Errorf("%w: data after the document", errSyntax)}
	}
	return nil
}

func typeError(path, want string, got kind) error {
	return &DocError{Path: path, Err: fmt.Errorf("%w: want %s, got %s", errType, want, got.describe())}
}

func unknownKey(key []byte, keys []string) error {
	for _, k := range keys {
		if bytes.EqualFold([]byte(k), key) {
			return fmt.Errorf("%w (keys are case-sensitive: did you mean %q?)", errUnknownKey, k)
		}
	}
	return errUnknownKey
}

// value reads the next value when it is a scalar (null is errNull unless
// nullOK); for an object or array it reads only the kind, and the caller
// refuses it.
func (d *decoder) value(path string, nullOK bool) (token, error) {
	s := &d.s
	k := kindOf(s.peek())
	switch k {
	case kindNone:
		return token{}, s.syntaxError(path, "looking for beginning of value")
	case kindObject, kindArray:
		d.unread = true
		return token{kind: k}, nil
	}
	d.unread = false
	t, err := s.scalar(path, k)
	if err == nil && t.kind == kindNull && !nullOK {
		err = &DocError{Path: path, Err: errNull}
	}
	return t, err
}

func (d *decoder) boolean(path string) (bool, error) {
	t, err := d.value(path, false)
	if err == nil && t.kind != kindBool {
		err = typeError(path, "true or false", t.kind)
	}
	return t.val, err
}

// str reads a string, or null when nullOK (kind kindNull, no bytes).
func (d *decoder) str(path string, nullOK bool) (token, error) {
	t, err := d.value(path, nullOK)
	if err == nil && t.kind != kindString && t.kind != kindNull {
		err = typeError(path, "a string", t.kind)
	}
	return t, err
}

func (d *decoder) enum(path string, v interface{ UnmarshalText([]byte) error }) error {
	t, err := d.str(path, false)
	if err != nil {
		return err
	}
	if err := v.UnmarshalText(t.b); err != nil {
		// A value of the right type is a validation problem, reported
		// with every other one of the policy rather than ending the decode.
		d.probs.addErr(&DocError{Path: path, Err: fmt.Errorf("%w: %w", errSettings, err)})
	}
	return nil
}

func (d *decoder) integer(path string) (int64, error) {
	t, err := d.value(path, false)
	if err != nil {
		return 0, err
	}
	if t.kind != kindNumber {
		return 0, typeError(path, "an integer", t.kind)
	}
	n, ok := parseInt(t.b)
	if !ok {
		return 0, &DocError{Path: path, Err: fmt.Errorf("%w: want a whole number of seconds in int64, got %s", errType, clip(string(t.b)))}
	}
	return n, nil
}

// parseInt parses a JSON number as strconv.ParseInt(s, 10, 64) would.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	switch {
	case !neg && n > 1<<63-1, neg && n > 1<<63:
		return 0, false
	case neg:
		return -int64(n), true
	}
	return int64(n), true
}

// instant reads an RFC 3339 timestamp; with nullOK, null and "" give ok
// false.
func (d *decoder) instant(path string, nullOK bool) (t time.Time, ok bool, err error) {
	tok, err := d.str(path, nullOK)
	if err != nil || nullOK && len(tok.b) == 0 {
		return time.Time{}, false, err
	}
	// time.Parse keeps no reference to its input when it succeeds.
	t, perr := time.Parse(time.RFC3339Nano, unsafeString(tok.b))
	if perr != nil || !rfc3339(tok.b) {
		return time.Time{}, false, &DocError{Path: path, Err: fmt.Errorf("%w: want an RFC 3339 timestamp, got %s", errType, rangeset.Quote(string(tok.b)))}
	}
	return t, true, nil
}

// rfc3339 reports whether a timestamp that time.Parse took has the shape
// RFC 3339 gives it: time.Parse also takes a one-digit hour, a comma
// before the fraction and an offset of 24:00 or with minute 60, which no
// encoder writes back, so that a policy holding one could be read but not
// written again.
func rfc3339(b []byte) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(b) < len(shape)+1 {
		return false
	}
	for i, c := range []byte(shape) {
		if c == 'd' && (b[i] < '0' || b[i] > '9') || c != 'd' && b[i] != c {
			return false
		}
	}
	rest := b[len(shape):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case string(rest) == "Z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		return string(rest[1:3]) <= "23" && string(rest[4:]) <= "59"
	}
	return false
}

// rules reads the array of rules.
func (d *decoder) rules() error {
	if err := d.open("rules", kindArray); err != nil {
		return err
	}
	for more := d.first(']'); more; {
		// The rule is decoded in place: a Rule is large, and copying one
		// into the heap costs write barriers while the collector runs.
		// Past the estimate of their number, if any, rules go into chunks
		// that are joined at the end, rather than into a slice that grows.
		n := len(d.p.Rules)
		if n == cap(d.p.Rules) {
			if n > 0 {
				d.full = append(d.full, d.p.Rules)
			}
			d.nfull += n
			d.p.Rules = make([]Rule, 0, min(max(2*n, 64), ruleChunk))
			n = 0
		}
		d.p.Rules = d.p.Rules[:n+1]
		if err := d.rule(d.nfull+n, &d.p.Rules[n]); err != nil {
			return err
		}
		var err error
		if more, err = d.next("rules", ']', "after array element"); err != nil {
			return err
		}
	}
	return nil
}

// rulePath returns the path of rule i, or "" for a lone rule (i < 0).
func rulePath(i int) string {
	if i < 0 {
		return ""
	}
	return "rules[" + strconv.Itoa(i) + "]"
}

func joinPath(base, key string) string {
	if key == "" {
		return base
	}
	if base == "" {
		return key
	}
	return base + "." + key
}

// ruleFacts is what the decoder learnt about a rule beyond its fields.
type ruleFacts struct {
	actionErr, targetErr, ttlErr error
	zero                         zeroFields
	ip, from, to                 bool
}

// zeroFields says which instants a document wrote at the zero instant:
// a Rule cannot hold them, as its zero instants mean unset.
type zeroFields uint8

const (
	zeroExpiresAt zeroFields = 1 << iota
	zeroUpdatedAt
	zeroCreatedAt
)

// rule reads rule i (i < 0: a lone rule document) and validates it.
// Inside a policy a document error is a [*RuleError] naming the rule's
// id, which is read leniently from the rest of the rule, as the id may
// come after the error.
func (d *decoder) rule(i int, r *Rule) error {
	s := &d.s
	var f ruleFacts
	if err := d.open("", kindObject); err != nil {
		return d.inRule(i, "", d.pathed(i, err, ""))
	}
	var seen uint16
	var fail error // the first document error, while the rest is read for the id
	id := ""       // the last id read, as a lenient reader of the whole object would have it
	// broken returns the error for a document found malformed at err: the
	// first document error if there was one, with no id, as the id cannot
	// be read from a malformed document.
	broken := func(err error, key string) error {
		if fail != nil {
			return d.inRule(i, "", fail)
		}
		return d.inRule(i, "", d.pathed(i, err, key))
	}
	for more := d.first('}'); more; {
		if s.peek() != '"' {
			return broken(s.syntaxError("", "looking for beginning of object key string"), "")
		}
		key, err := s.readString("")
		if err != nil {
			return broken(err, "")
		}
		k := keyIndex(ruleKeys, key)
		if fail == nil {
			switch {
			case k < 0:
				fail = &DocError{Path: joinPath(rulePath(i), keyText(string(key))), Err: unknownKey(key, ruleKeys)}
			case seen&(1<<k) != 0:
				fail = &DocError{Path: joinPath(rulePath(i), ruleKeys[k]), Err: errDuplicateKey}
			}
			if fail != nil && i < 0 {
				return fail
			}
		}
		if k >= 0 {
			seen |= 1 << k
		}
		if err := s.expect("", ':', "after object key"); err != nil {
			return broken(err, "")
		}
		switch {
		case fail != nil:
			// Leniently: the value is only checked, and the last id kept.
			var err error
			if k == keyID {
				id, err = d.lenientID()
			} else {
				err = s.skipValue()
			}
			if err != nil {
				return broken(err, "")
			}
		default:
			err := d.field(r, &f, k)
			if err == nil {
				if k == keyID {
					id = r.ID
				}
				break
			}
			var de *DocError
			if !errors.As(err, &de) || errors.Is(err, errSyntax) || i < 0 {
				return broken(err, ruleKeys[k])
			}
			fail = d.pathed(i, err, ruleKeys[k])
			if k == keyID {
				id = ""
			}
			// A refused object or array value is still to be read.
			if d.unread {
				if err := s.skipValue(); err != nil {
					return broken(err, "")
				}
			}
		}
		if more, err = d.next("", '}', "after object key:value pair"); err != nil {
			return broken(err, "")
		}
	}
	if fail != nil {
		if d.skipRest() != nil {
			id = ""
		}
		return d.inRule(i, id, fail)
	}
	d.target(r, &f)
	d.check(i, r, &f)
	return nil
}

// pathed gives a document error from inside rule i the path of the rule,
// or of key in it.
func (d *decoder) pathed(i int, err error, key string) error {
	var de *DocError
	if errors.As(err, &de) && de.Path == "" {
		de.Path = joinPath(rulePath(i), key)
	}
	return err
}

// inRule wraps an error from inside rule i of a policy in a [*RuleError].
func (d *decoder) inRule(i int, id string, err error) error {
	if i < 0 {
		return err
	}
	return &RuleError{Index: i, ID: id, Err: err}
}

// lenientID reads the value of an "id" key: a string, else it gives "".
func (d *decoder) lenientID() (string, error) {
	s := &d.s
	if s.peek() == '"' {
		b, err := s.readString("")
		return string(b), err
	}
	return "", s.skipValue()
}

// skipRest checks the syntax of the document after a rule that had a
// document error: the rest of the rules, of the settings, and the end.
func (d *decoder) skipRest() error {
	s := &d.s
	for _, close := range []byte{']', '}'} {
		for {
			c := s.peek()
			if c == close {
				s.pos++
				break
			}
			if c != ',' {
				return errSyntax
			}
			s.pos++
			if close == '}' {
				if err := s.skipKey(); err != nil {
					return err
				}
			}
			if err := s.skipValue(); err != nil {
				return err
			}
		}
	}
	if s.skipSpace() || s.rerr != nil {
		return errSyntax
	}
	return nil
}

// field reads the value of rule key k into r.
func (d *decoder) field(r *Rule, f *ruleFacts, k int) error {
	var err error
	var t token
	var ok bool
	switch k {
	case keyID:
		if t, err = d.str("", false); err == nil {
			r.ID = d.mem.str(t.b)
		}
	case keyIP:
		if t, err = d.str("", false); err == nil {
			d.ip, f.ip = append(d.ip[:0], t.b...), true
		}
	case keyFrom:
		if t, err = d.str("", false); err == nil {
			d.from, f.from = append(d.from[:0], t.b...), true
		}
	case keyTo:
		if t, err = d.str("", false); err == nil {
			d.to, f.to = append(d.to[:0], t.b...), true
		}
	case keyAction:
		if t, err = d.str("", false); err == nil {
			switch string(t.b) {
			case "allow":
				r.Action = Allow
			case "deny":
				r.Action = Deny
			default:
				f.actionErr = fmt.Errorf("%w %s (want \"allow\" or \"deny\")", errAction, rangeset.Quote(string(t.b)))
			}
		}
	case keyAdminOnly:
		r.AdminOnly, err = d.boolean("")
	case keyCreatedAt:
		if r.CreatedAt, ok, err = d.instant("", true); ok && r.CreatedAt.IsZero() {
			f.zero |= zeroCreatedAt
		}
	case keyUpdatedAt:
		if r.UpdatedAt, ok, err = d.instant("", true); ok && r.UpdatedAt.IsZero() {
			f.zero |= zeroUpdatedAt
		}
	case keyExpiresAt:
		if r.ExpiresAt, ok, err = d.instant("", false); ok && r.ExpiresAt.IsZero() {
			f.zero |= zeroExpiresAt
		}
	case keyTTL:
		var n int64
		if n, err = d.integer(""); err == nil {
			var ttl time.Duration
			ttl, f.ttlErr = ttlSeconds(n)
			r.TTL = d.mem.duration(ttl)
		}
	case keyComment:
		if t, err = d.str("", true); err == nil {
			r.Comment = d.mem.str(t.b)
		}
	}
	return err
}

// target parses the rule's target text.
func (d *decoder) target(r *Rule, f *ruleFacts) {
	var err error
	// The parsers keep no reference to their input when they succeed; on
	// failure they are called again with a copy, for an error that may keep it.
	switch {
	case f.ip && (f.from || f.to):
		err = errFromToAndIP
	case f.ip:
		if r.Target, err = rangeset.ParseRange(unsafeString(d.ip)); err != nil {
			_, err = rangeset.ParseRange(string(d.ip))
		}
	case f.from && f.to:
		if r.Target, err = rangeset.ParseFromTo(unsafeString(d.from), unsafeString(d.to)); err != nil {
			_, err = rangeset.ParseFromTo(string(d.from), string(d.to))
		}
	case f.from || f.to:
		err = errFromWithoutTo
	}
	if err != nil {
		if !errors.Is(err, errTarget) {
			err = fmt.Errorf("%w: %w", errTarget, err)
		}
		f.targetErr = err
	}
}

// check validates rule i as [Policy.Validate] does, in the document's
// terms, adding to d.probs.
func (d *decoder) check(i int, r *Rule, f *ruleFacts) {
	idx := max(i, 0)
	ps := &d.probs
	if f.actionErr != nil {
		ps.add(idx, phaseBeforeID, r.ID, f.actionErr)
	}
	if f.targetErr != nil {
		ps.add(idx, phaseBeforeID, r.ID, f.targetErr)
	}
	if f.ttlErr != nil {
		ps.add(idx, phaseBeforeID, r.ID, f.ttlErr)
	}
	if i >= 0 {
		d.ids.add(r.ID)
	}
	if r.ID == "" {
		ps.add(idx, phaseID, r.ID, errEmptyID)
	}
	if !r.Target.IsValid() && f.targetErr == nil {
		ps.add(idx, phaseAfterID, r.ID, errMissingTarget)
	}
	if r.Action == 0 && f.actionErr == nil {
		ps.add(idx, phaseAfterID, r.ID, errMissingAction)
	}
	var buf [4]error
	for _, err := range expiryProblems(buf[:0], r, f.zero, docTerms) {
		ps.add(idx, phaseAfterID, r.ID, err)
	}
}

// MarshalJSON implements [json.Marshaler]. The target is written as "ip" in
// its canonical text, the TTL in seconds; zero timestamps and empty comments
// are left out. A rule without a valid target or action, with a TTL that
// is not whole seconds, or with an instant whose year is outside 0-9999 in
// UTC is an error, since it could not be read back. Text that is not valid
// UTF-8 is written with U+FFFD in its place, as encoding/json writes it:
// [Policy.Validate] refuses it.
func (r Rule) MarshalJSON() ([]byte, error) {
	return r.appendJSON(make([]byte, 0, 64+len(r.ID)+len(r.Comment)))
}

func (r *Rule) appendJSON(b []byte) ([]byte, error) {
	if !r.Target.IsValid() {
		return nil, &RuleError{ID: r.ID, Err: errMissingTarget}
	}
	if !r.Action.IsValid() {
		return nil, &RuleError{ID: r.ID, Err: fmt.Errorf("policy: cannot marshal invalid Action(%d)", r.Action)}
	}
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"ip":"`...)
	b = appendTarget(b, r.Target)
	b = append(b, `","action":"`...)
	b = append(b, actionNames[r.Action]...)
	b = append(b, '"')
	if r.AdminOnly {
		b = append(b, `,"adminOnly":true`...)
	}
	var err error
	if b, err = appendInstant(b, `,"createdAt":`, r.CreatedAt); err != nil {
		return nil, &RuleError{ID: r.ID, Err: err}
	}
	if b, err = appendInstant(b, `,"updatedAt":`, r.UpdatedAt); err != nil {
		return nil, &RuleError{ID: r.ID, Err: err}
	}
	if r.TTL != nil {
		if *r.TTL%time.Second != 0 {
			return nil, &RuleError{ID: r.ID, Err: ttlProblem(*r.TTL, goTerms)}
		}
		b = append(b, `,"ttl":`...)
		b = strconv.AppendInt(b, int64(*r.TTL/time.Second), 10)
	}
	if b, err = appendInstant(b, `,"expiresAt":`, r.ExpiresAt); err != nil {
		return nil, &RuleError{ID: r.ID, Err: err}
	}
	if r.Comment != "" {
		b = append(b, `,"comment":`...)
		b = appendString(b, r.Comment)
	}
	return append(b, '}'), nil
}

// appendTarget appends the text of [rangeset.Range.String] without
// allocating.
func appendTarget(b []byte, t rangeset.Range) []byte {
	if t.From() == t.To() {
		return t.From().AppendTo(b)
	}
	if p, ok := t.Prefix(); ok {
		return p.AppendTo(b)
	}
	b = t.From().AppendTo(b)
	b = append(b, '-')
	return t.To().AppendTo(b)
}

// appendInstant appends key and t in RFC 3339 unless t is zero; like
// encoding/json, it refuses a year outside 0-9999 or an offset that RFC
// 3339 cannot write.
func appendInstant(b []byte, key string, t time.Time) ([]byte, error) {
	if t.IsZero() {
		return b, nil
	}
	if _, off := t.Zone(); off%60 != 0 || t.Year() < 0 || t.Year() > 9999 {
		// RFC 3339 has no seconds in an offset (Go would drop them, and
		// move the instant), nor a year outside 0-9999 (in UTC it may fit).
		t = t.UTC()
	}
	b = append(b, key...)
	b = append(b, '"')
	b, err := t.AppendText(b)
	return append(b, '"'), err
}

// appendString appends s quoted as encoding/json quotes it, HTML escapes
// included, so that output is byte for byte what json.Marshal writes.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// MarshalJSON implements [json.Marshaler]: every setting is written, then
// the rules. [Decode] of the result gives back an equal policy when p is
// valid. The output is compact, as json.Marshal writes it.
func (p Policy) MarshalJSON() ([]byte, error) {
	size := 128
	for i := range p.Rules {
		size += 80 + len(p.Rules[i].ID) + len(p.Rules[i].Comment)
	}
	b, err := p.Settings.appendJSON(make([]byte, 0, size))
	if err != nil {
		return nil, err
	}
	b = append(b, `,"rules":[`...)
	for i := range p.Rules {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = p.appendRule(b, i); err != nil {
			return nil, err
		}
	}
	return append(b, "]}"...), nil
}

// WriteTo implements [io.WriterTo]: it writes p as a JSON document,
// indented as json.MarshalIndent(p, "", "  ") indents it and ending in a
// newline, the form a file keeps. It holds the text of a few rules at a
// time, never the whole document's, so that writing a large policy takes
// no memory in proportion to it. An error from a rule, as
// [Policy.MarshalJSON] would return, stops it with part of the document
// written.
func (p Policy) WriteTo(w io.Writer) (int64, error) {
	head, err := p.Settings.appendJSON(nil)
	if err != nil {
		return 0, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, append(head, '}'), "", "  "); err != nil {
		return 0, err
	}
	out.Truncate(out.Len() - len("\n}"))
	out.WriteString(",\n  \"rules\": [")
	var n int64
	flush := func() error {
		m, err := w.Write(out.Bytes())
		n += int64(m)
		out.Reset()
		return err
	}
	var rule []byte
	for i := range p.Rules {
		if rule, err = p.appendRule(rule[:0], i); err != nil {
			return n, err
		}
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString("\n    ")
		if err := json.Indent(&out, rule, "    ", "  "); err != nil {
			return n, err
		}
		if out.Len() >= writeChunk {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if len(p.Rules) > 0 {
		out.WriteString("\n  ")
	}
	out.WriteString("]\n}\n")
	return n, flush()
}

// writeChunk is about how many bytes [Policy.WriteTo] gathers before each
// write.
const writeChunk = 32 << 10

// appendJSON appends the settings as the start of a compact policy
// document: every setting, and no closing brace.
func (s Settings) appendJSON(b []byte) ([]byte, error) {
	if !s.DefaultAction.IsValid() {
		return nil, fmt.Errorf("policy: cannot marshal invalid %v", s.DefaultAction)
	}
	b = append(b, `{"enabled":`...)
	b = strconv.AppendBool(b, s.Enabled)
	b = append(b, `,"defaultAction":"`...)
	b = append(b, defaultNames[s.DefaultAction]...)
	b = append(b, `","precedence":"`...)
	b = append(b, precedenceNames[precedenceOf(s.DenyOverrides)]...)
	b = append(b, `","applyToMobile":`...)
	return strconv.AppendBool(b, s.ApplyToMobile), nil
}

// appendRule appends rule i compactly; its error names the rule's index.
func (p Policy) appendRule(b []byte, i int) ([]byte, error) {
	b, err := p.Rules[i].appendJSON(b)
	if err != nil {
		var re *RuleError
		if errors.As(err, &re) {
			re.Index = i
		}
	}
	return b, err
}

// maxTTLSeconds is the largest whole number of seconds a time.Duration holds.
const maxTTLSeconds = int64(1<<63-1) / int64(time.Second)

// ttlSeconds converts a document's ttl to a Duration. One too large to be a
// Duration is an error, and saturates so that the rule's other expiry
// problems are still found; one too small is an error too, and zero.
func ttlSeconds(n int64) (time.Duration, error) {
	switch {
	case n > maxTTLSeconds:
		return time.Duration(maxTTLSeconds) * time.Second, fmt.Errorf("%w %d: over %d seconds (about 292 years), the largest Go time.Duration", errTTL, n, maxTTLSeconds)
	case n < -maxTTLSeconds:
		return 0, fmt.Errorf("%w %d: negative", errTTL, n)
	}
	return time.Duration(n) * time.Second, nil
}

// arena holds the strings and TTLs of decoded rules in blocks, so that a
// million rules do not take a million allocations for their ids. Bytes in
// a block never change once a string refers to them; a block lives as long
// as any string or TTL in it.
type arena struct {
	b    []byte
	ttls []time.Duration
}

// Blocks are small enough that a kept id pins little memory.
const (
	arenaBytes  = 8 << 10
	arenaTTLs   = 256
	arenaMaxStr = 128 // longer strings are allocated on their own
)

func (a *arena) str(b []byte) string {
	switch {
	case len(b) == 0:
		return ""
	case len(b) > arenaMaxStr:
		return string(b)
	case cap(a.b)-len(a.b) < len(b):
		a.b = make([]byte, 0, arenaBytes)
	}
	n := len(a.b)
	a.b = append(a.b, b...)
	return unsafe.String(&a.b[n], len(b))
}

func (a *arena) duration(v time.Duration) *time.Duration {
	if len(a.ttls) == cap(a.ttls) {
		a.ttls = make([]time.Duration, 0, arenaTTLs)
	}
	a.ttls = append(a.ttls, v)
	return &a.ttls[len(a.ttls)-1]
}
