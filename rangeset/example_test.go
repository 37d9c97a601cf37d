package rangeset_test

import (
	"errors"
	"fmt"

	"github.com/ipgate/ipgate/rangeset"
)

func ExampleParseRange() {
	for _, s := range []string{"10.0.0.0-10.0.0.255", "192.168.0.1 - 192.168.0.100", "2001:DB8::/32", "10.0.0.5/24"} {
		r, err := rangeset.ParseRange(s)
		if err != nil {
			fmt.Println(err, errors.Is(err, rangeset.ErrHostBits))
			continue
		}
		fmt.Println(r, r.Size())
	}
	// Output:
	// 10.0.0.0/24 256
	// 192.168.0.1-192.168.0.100 100
	// 2001:db8::/32 79228162514264337593543950336
	// rangeset.ParseRange("10.0.0.5/24"): host bits set (canonical form 10.0.0.0/24) true
}

func ExampleParseAddr() {
	for _, s := range []string{"::ffff:10.1.2.3", "fe80::1%eth0", "010.1.2.3"} {
		a, err := rangeset.ParseAddr(s)
		fmt.Println(a, err)
	}
	// Output:
	// 10.1.2.3 <nil>
	// fe80::1 <nil>
	// invalid IP rangeset.ParseAddr("010.1.2.3"): invalid IP address "010.1.2.3": IPv4 field has octet with leading zero
}

func ExampleRange_Prefixes() {
	for p := range rangeset.MustParseRange("10.0.0.1-10.0.0.9").Prefixes() {
		fmt.Println(p)
	}
	// Output:
	// 10.0.0.1/32
	// 10.0.0.2/31
	// 10.0.0.4/30
	// 10.0.0.8/31
}
