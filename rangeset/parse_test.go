package rangeset_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/ipgate/ipgate/rangeset"
)

func TestParseRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		want     string // canonical text
		wantErr  string
		sentinel error  // an exported sentinel the error wraps, or
		problem  string // how the ParseError's Err text begins
	}{
		{in: "203.0.113.7", want: "203.0.113.7"},
		{in: " \t10.0.0.1\r\n", want: "10.0.0.1"},
		{in: "2001:DB8::1", want: "2001:db8::1"},
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "::/0", want: "::/0"},
		{in: "10.0.0.1 - 10.0.0.9", want: "10.0.0.1-10.0.0.9"},
		{in: "\t10.0.0.1  -  10.0.0.9\n", want: "10.0.0.1-10.0.0.9"},
		{in: "10.0.0.0-10.0.0.255", want: "10.0.0.0/24"},
		{in: "10.0.0.7-10.0.0.7", want: "10.0.0.7"},
		{in: "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", want: "::/0"},
		{in: "::fffe:0:0/95", want: "::fffe:0:0/95"},
		{in: "", wantErr: `rangeset.ParseRange(""): empty input`, sentinel: rangeset.ErrEmpty},
		{in: " \t", wantErr: `rangeset.ParseRange(" \t"): empty input`, sentinel: rangeset.ErrEmpty},
		{in: "010.0.0.1", wantErr: `rangeset.ParseRange("010.0.0.1"): invalid IP address "010.0.0.1": IPv4 field has octet with leading zero`, problem: "invalid IP address"},
		{in: "10.1", problem: "invalid IP address"},
		{in: "10.0.*.*", problem: "invalid IP address"},
		{in: "0x0a.0.0.1", problem: "invalid IP address"},
		{in: "10.0.0.256", problem: "invalid IP address"},
		{in: "10.0.0.5/24", wantErr: `rangeset.ParseRange("10.0.0.5/24"): host bits set (canonical form 10.0.0.0/24)`, sentinel: rangeset.ErrHostBits},
		{in: "2001:db8::1/32", wantErr: `rangeset.ParseRange("2001:db8::1/32"): host bits set (canonical form 2001:db8::/32)`, sentinel: rangeset.ErrHostBits},
		{in: "10.0.0.0/33", wantErr: `rangeset.ParseRange("10.0.0.0/33"): invalid prefix length "33" (want 0 to 32)`, problem: "invalid prefix length"},
		{in: "::/129", problem: "invalid prefix length"},
		{in: "10.0.0.0/", problem: "invalid prefix length"},
		{in: "10.0.0.0/+8", problem: "invalid prefix length"},
		{in: "10.0.0.0/-0", wantErr: `rangeset.ParseRange("10.0.0.0/-0"): invalid prefix length "-0" (want 0 to 32)`, problem: "invalid prefix length"},
		{in: "::/-1", problem: "invalid prefix length"},
		{in: "10.0.0.0/ -8", problem: "invalid prefix length"},
		{in: "10.0.0.0/08", problem: "invalid prefix length"},
		{in: "10.0.0.0/8/8", problem: "invalid prefix length"},
		{in: "10.0.0.0/ 8", problem: "invalid prefix length"},
		{in: "10.0.0.9-10.0.0.1", wantErr: `rangeset.ParseRange("10.0.0.9-10.0.0.1"): range start is above its end`, problem: "range start is above its end"},
		{in: "10.0.0.1-2001:db8::1", problem: "range ends are of different address families"},
		{in: "10.0.0.1-", problem: "invalid IP address"},
		{in: "1.1.1.1-2.2.2.2-3.3.3.3", problem: "invalid IP address"},
		{in: "10.0.0.0/8-10.1.0.0", problem: "invalid IP address"},
		{in: "fe80::1%eth0", wantErr: `rangeset.ParseRange("fe80::1%eth0"): zone not allowed in a rule target: "fe80::1%eth0"`, problem: "zone not allowed in a rule target"},
		{in: "fe80::%eth0/64", problem: "zone not allowed in a rule target"},
		{in: "::ffff:10.0.0.1", problem: "IPv4-mapped IPv6 address not allowed in a rule target (write the IPv4 address)"},
		{in: "::ffff:a00:1", problem: "IPv4-mapped IPv6 address not allowed in a rule target (write the IPv4 address)"},
		{in: "::ffff:0:0/96", problem: "IPv4-mapped IPv6 address not allowed in a rule target (write the IPv4 address)"},
		{in: "::1-::ffff:1.2.3.4", problem: "IPv4-mapped IPv6 address not allowed in a rule target (write the IPv4 address)"},
		{in: "10.0.0.1\v", problem: "invalid IP address"},
		{in: "10.0.0.1\t-10.0.0.9", wantErr: `rangeset.ParseRange("10.0.0.1\t-10.0.0.9"): invalid IP address "10.0.0.1\t": unexpected character (at "\t")`, problem: "invalid IP address"},
		{in: "10.0.0.1 -\r\n10.0.0.9", problem: "invalid IP address"},
	}
	for _, tt := range tests {
		got, err := rangeset.ParseRange(tt.in)
		if tt.sentinel == nil && tt.problem == "" {
			if err != nil || got.String() != tt.want {
				t.Errorf("ParseRange(%q) = %v, %v, want %s", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseRange(%q) = %v, want error", tt.in, got)
			continue
		}
		if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
			t.Errorf("ParseRange(%q) error %q does not wrap %q", tt.in, err, tt.sentinel)
		}
		if tt.wantErr != "" && err.Error() != tt.wantErr {
			t.Errorf("ParseRange(%q) error = %q, want %q", tt.in, err, tt.wantErr)
		}
		var pe *rangeset.ParseError
		if !errors.As(err, &pe) || pe.Input != tt.in || pe.Func != "rangeset.ParseRange" {
			t.Errorf("ParseRange(%q) error %#v is not a *ParseError naming the input", tt.in, err)
		} else if tt.problem != "" && !strings.HasPrefix(pe.Err.Error(), tt.problem) {
			t.Errorf("ParseRange(%q) error %q does not say %q", tt.in, err, tt.problem)
		}
		if got.IsValid() {
			t.Errorf("ParseRange(%q) returned a valid range %v with an error", tt.in, got)
		}
	}
}

func TestParseErrorCutsLongInput(t *testing.T) {
	t.Parallel()
	// net/netip's reason for the failure quotes what follows the bad byte:
	// it must be cut too, for short inputs and long ones.
	for _, tt := range []struct {
		name  string
		parse func(string) error
	}{
		{"ParseRange", func(s string) error { _, err := rangeset.ParseRange(s); return err }},
		{"ParseRange end", func(s string) error { _, err := rangeset.ParseRange("10.0.0.1-" + s); return err }},
		{"ParseFromTo", func(s string) error { _, err := rangeset.ParseFromTo("10.0.0.1", s); return err }},
		{"ParseAddr", func(s string) error { _, err := rangeset.ParseAddr(s); return err }},
	} {
		for _, in := range []string{
			strings.Repeat("1", 10000),
			"1.2.3.4" + strings.Repeat("x", 100),
			"1.2.3.4" + strings.Repeat("\x01", 120),
			"1.2.3.4" + strings.Repeat("x", 1<<20),
		} {
			err := tt.parse(in)
			if err == nil {
				t.Fatalf("%s(%d bytes) succeeded", tt.name, len(in))
			}
			var pe *rangeset.ParseError
			if !errors.As(err, &pe) || !strings.HasPrefix(pe.Err.Error(), "invalid IP address ") {
				t.Errorf("%s(%d bytes) error %v is not a ParseError saying invalid IP address", tt.name, len(in), err)
			}
			if msg := err.Error(); len(msg) > 1200 || !strings.Contains(msg, fmt.Sprintf("(%d bytes)", len(in))) {
				t.Errorf("%s(%d bytes) error = %q, want a short message naming the length", tt.name, len(in), msg)
			} else if strings.Contains(msg, strings.Repeat("x", 65)) {
				t.Errorf("%s(%d bytes) error = %q quotes more than 64 bytes of it", tt.name, len(in), msg)
			}
		}
	}
}

func TestParseFromTo(t *testing.T) {
	t.Parallel()
	r, err := rangeset.ParseFromTo(" 192.168.0.1", "192.168.0.100 ")
	if err != nil || r.String() != "192.168.0.1-192.168.0.100" {
		t.Errorf("ParseFromTo = %v, %v", r, err)
	}
	_, err = rangeset.ParseFromTo("10.0.0.2", "10.0.0.1")
	if want := `rangeset.ParseFromTo("10.0.0.2-10.0.0.1"): range start is above its end`; err == nil || err.Error() != want {
		t.Errorf("ParseFromTo reversed: error = %v, want %q", err, want)
	}
	for _, bad := range [][2]string{{"10.0.0.0/8", "10.0.0.9"}, {"", "10.0.0.1"}, {"::ffff:1.2.3.4", "::ffff:1.2.3.5"}} {
		if r, err := rangeset.ParseFromTo(bad[0], bad[1]); err == nil {
			t.Errorf("ParseFromTo(%q, %q) = %v, want error", bad[0], bad[1], r)
		}
	}
}

func TestParseAddr(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"10.0.0.1":            "10.0.0.1",
		"::ffff:10.9.9.9":     "10.9.9.9",
		"::ffff:a09:909":      "10.9.9.9",
		"fe80::1%eth0":        "fe80::1",
		"::a09:909":           "::a09:909",
		"2001:DB8::1":         "2001:db8::1",
		"::ffff:10.0.0.1%eth": "10.0.0.1",
	}
	for in, want := range good {
		got, err := rangeset.ParseAddr(in)
		if err != nil || got != netip.MustParseAddr(want) {
			t.Errorf("ParseAddr(%q) = %v, %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10.0.0.256", "010.0.0.1", " 10.0.0.1", "10.0.0.1%eth0", "not-an-ip", "10.0.0.0/8", "fe80::1%"} {
		got, err := rangeset.ParseAddr(in)
		if err == nil {
			t.Errorf("ParseAddr(%q) = %v, want error", in, got)
			continue
		}
		var pe *rangeset.ParseError
		if !errors.As(err, &pe) || pe.Func != "rangeset.ParseAddr" || pe.Input != in {
			t.Errorf("ParseAddr(%q) error %q is not a *ParseError naming the input", in, err)
		}
	}
}
