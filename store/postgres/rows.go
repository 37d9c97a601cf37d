package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// ruleCols are the columns of a rule, in the order of ruleValues and
// scanRule, shared by the rules and changes tables. An instant is a
// timestamptz (microseconds, as the server keeps them) plus the remaining
// nanoseconds in a column of its own, so that it survives exactly.
const ruleCols = `id, target_from, target_to, action, admin_only, expires_at, expires_ns, ttl,
	created_at, created_ns, updated_at, updated_ns, comment`

// rowsRead counts the rule rows decoded, so that tests can tell how much of
// a policy a write read.
var rowsRead atomic.Int64

// instant splits t into the server's microseconds and the nanoseconds
// below them; the zero time is NULL.
func instant(t time.Time) (any, int16) {
	if t.IsZero() {
		return nil, 0
	}
	return t, int16(t.Nanosecond() % 1000)
}

// ruleValues returns r's values in the order of ruleCols.
func ruleValues(r policy.Rule) []any { return appendRuleValues(nil, r) }

// appendRuleValues appends r's values in the order of ruleCols to row.
func appendRuleValues(row []any, r policy.Rule) []any {
	exp, expNs := instant(r.ExpiresAt)
	created, createdNs := instant(r.CreatedAt)
	updated, updatedNs := instant(r.UpdatedAt)
	var ttl *int64
	if r.TTL != nil {
		s := int64(*r.TTL / time.Second) // validated: whole seconds
		ttl = &s
	}
	return append(row, r.ID, r.Target.From(), r.Target.To(), r.Action.String(), r.AdminOnly, exp, expNs, ttl,
		created, createdNs, updated, updatedNs, r.Comment)
}

// cover is the smallest prefix holding r: the key of the index that finds
// the rules containing an address (see containsArgs).
func cover(r rangeset.Range) netip.Prefix {
	from, to := r.From().As16(), r.To().As16()
	bits := 0
	for bits < 128 && from[bits/8]&(0x80>>(bits%8)) == to[bits/8]&(0x80>>(bits%8)) {
		bits++
	}
	if r.Is4() {
		bits -= 96
	}
	p, _ := r.From().Prefix(bits)
	return p
}

// supernets returns every prefix holding a, one per length: a rule holds a
// only if its cover is one of them.
func supernets(a netip.Addr) []netip.Prefix {
	out := make([]netip.Prefix, 0, a.BitLen()+1)
	for bits := 0; bits <= a.BitLen(); bits++ {
		p, _ := a.Prefix(bits)
		out = append(out, p)
	}
	return out
}

// The binary formats of the rule columns, which the store encodes and
// decodes itself: through pgx's values, a million rows cost seconds of
// the client's CPU.
const (
	pgAFInet  = 2 // family of an IPv4 inet
	pgAFInet6 = 3
	// unixToY2K is the time from the Unix epoch to the server's, in µs.
	unixToY2K = 946_684_800 * 1_000_000
)

// copyReader is a binary COPY stream of rows, each encoded as COPY reads
// it by next, which appends it to buf and reports false after the last.
type copyReader struct {
	buf  []byte
	next func(buf []byte) ([]byte, bool)
	done bool
}

func newCopyReader(next func(buf []byte) ([]byte, bool)) *copyReader {
	buf := append(make([]byte, 0, 1<<16), "PGCOPY\n\xff\r\n\x00"...)
	return &copyReader{buf: binary.BigEndian.AppendUint64(buf, 0), next: next} // no flags, no extension
}

func (c *copyReader) Read(p []byte) (int, error) {
	for len(c.buf) < len(p) && !c.done {
		var more bool
		if c.buf, more = c.next(c.buf); !more {
			c.buf, c.done = append(c.buf, 0xff, 0xff), true // the trailer
		}
	}
	if len(c.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.buf)
	c.buf = c.buf[:copy(c.buf, c.buf[n:])]
	return n, nil
}

// appendCopyRow appends r as a row of ruleCopyCols in the binary format.
func appendCopyRow(b []byte, name string, r policy.Rule, pos int64) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(ruleCopyCols)))
	b = appendText(b, r.ID)
	b = appendInet(b, netip.PrefixFrom(r.Target.From(), r.Target.From().BitLen()), false)
	b = appendInet(b, netip.PrefixFrom(r.Target.To(), r.Target.To().BitLen()), false)
	b = appendText(b, r.Action.String())
	b = binary.BigEndian.AppendUint32(b, 1)
	if r.AdminOnly {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendInstant(b, r.ExpiresAt)
	if r.TTL == nil {
		b = binary.BigEndian.AppendUint32(b, 0xffffffff)
	} else {
		b = appendInt8(b, int64(*r.TTL/time.Second)) // validated: whole seconds
	}
	b = appendInstant(b, r.CreatedAt)
	b = appendInstant(b, r.UpdatedAt)
	b = appendText(b, r.Comment)
	b = appendText(b, name)
	b = appendInet(b, cover(r.Target), true)
	return appendInt8(b, pos)
}

func appendText(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...)
}

func appendInt8(b []byte, n int64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), uint64(n))
}

// appendInet appends an inet, or a cidr when cidr says so.
func appendInet(b []byte, p netip.Prefix, cidr bool) []byte {
	a := p.Addr()
	fam := byte(pgAFInet)
	if !a.Is4() {
		fam = pgAFInet6
	}
	bytes := a.AsSlice()
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(bytes)))
	isCIDR := byte(0)
	if cidr {
		isCIDR = 1
	}
	return append(append(b, fam, byte(p.Bits()), isCIDR, byte(len(bytes))), bytes...)
}

// appendInstant appends t as a timestamptz (NULL when zero) and the
// nanoseconds below its microseconds as a smallint.
func appendInstant(b []byte, t time.Time) []byte {
	if t.IsZero() {
		b = binary.BigEndian.AppendUint32(b, 0xffffffff)
	} else {
		b = appendInt8(b, t.Unix()*1_000_000+int64(t.Nanosecond()/1000)-unixToY2K)
	}
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint32(b, 2), uint16(t.Nanosecond()%1000))
}

// binaryResults asks a query for every column in the binary format, which
// decodeRule reads.
var binaryResults = pgx.QueryResultFormats{pgx.BinaryFormatCode}

// decodeRule decodes the columns of ruleCols in the binary format, or
// returns an error naming the rule when they hold what no rule can.
func decodeRule(v [][]byte) (policy.Rule, error) {
	rowsRead.Add(1)
	var r policy.Rule
	if len(v) != 13 {
		return r, fmt.Errorf("%d rule columns, want 13", len(v))
	}
	r.ID = string(v[0])
	from, err1 := decodeInet(v[1])
	to, err2 := decodeInet(v[2])
	r.Target = rangeset.RangeFrom(from, to)
	var errs []error
	if err := errors.Join(err1, err2); err != nil {
		errs = append(errs, err)
	} else if !r.Target.IsValid() {
		errs = append(errs, fmt.Errorf("invalid target %s-%s", from, to))
	}
	errs = append(errs, r.Action.UnmarshalText(v[3]))
	if len(v[4]) != 1 {
		errs = append(errs, errors.New("admin_only is not a boolean"))
	} else {
		r.AdminOnly = v[4][0] != 0
	}
	var err error
	r.ExpiresAt, err = decodeInstant(v[5], v[6])
	errs = append(errs, err)
	if v[7] != nil {
		s, err := decodeInt(v[7])
		if ttl := time.Duration(s) * time.Second; err == nil && ttl/time.Second == time.Duration(s) {
			r.TTL = &ttl
		} else {
			errs = append(errs, fmt.Errorf("ttl %d out of range", s), err)
		}
	}
	r.CreatedAt, err = decodeInstant(v[8], v[9])
	errs = append(errs, err)
	r.UpdatedAt, err = decodeInstant(v[10], v[11])
	errs = append(errs, err)
	r.Comment = string(v[12])
	if err := errors.Join(errs...); err != nil {
		return r, fmt.Errorf("rule %s: %w", rangeset.Quote(r.ID), err)
	}
	return r, nil
}

// decodeInt decodes a smallint, integer or bigint.
func decodeInt(b []byte) (int64, error) {
	switch len(b) {
	case 2:
		return int64(int16(binary.BigEndian.Uint16(b))), nil
	case 4:
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	case 8:
		return int64(binary.BigEndian.Uint64(b)), nil
	}
	return 0, fmt.Errorf("an integer of %d bytes", len(b))
}

func decodeInet(b []byte) (netip.Addr, error) {
	if len(b) == 8 && b[0] == pgAFInet && b[3] == 4 {
		return netip.AddrFrom4([4]byte(b[4:])), nil
	}
	if len(b) == 20 && b[0] == pgAFInet6 && b[3] == 16 {
		return netip.AddrFrom16([16]byte(b[4:])), nil
	}
	return netip.Addr{}, fmt.Errorf("malformed inet % x", b)
}

// decodeInstant decodes a timestamptz (NULL is the zero time) plus its
// nanoseconds below the microseconds, in UTC.
func decodeInstant(ts, ns []byte) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	n, err := decodeInt(ns)
	if len(ts) != 8 || err != nil {
		return time.Time{}, errors.New("malformed instant")
	}
	us := int64(binary.BigEndian.Uint64(ts))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return time.Time{}, errors.New("infinite instant")
	}
	return time.UnixMicro(us + unixToY2K).UTC().Add(time.Duration(n)), nil
}
