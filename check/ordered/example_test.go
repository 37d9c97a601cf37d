package ordered_test

import (
	"fmt"

	"github.com/ipgate/ipgate/check/ordered"
	"github.com/ipgate/ipgate/policy"
)

func ExampleParseNginx() {
	list, warns, err := ordered.ParseNginx(`
deny  192.168.1.1;
allow 192.168.1.0/24;  allow unix:;
allow 10.1.1.0/16;     # nginx's own example: host bits set
deny  all;
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range warns {
		fmt.Println(w)
	}
	// nginx allows what no directive matches.
	p, err := ordered.Policy(list, policy.DefaultAllow)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range p.Rules {
		fmt.Println(r.ID, r.Target, r.Action)
	}
	// Output:
	// line 3: "allow unix:" skipped: it matches only clients on a Unix socket, which have no address
	// line 4: "10.1.1.0/16" has host bits set: masked to 10.1.0.0/16, as nginx does
	// line5 0.0.0.0-10.0.255.255 deny
	// line4 10.1.0.0/16 allow
	// line5.2 10.2.0.0-192.168.0.255 deny
	// line3 192.168.1.0 allow
	// line2 192.168.1.1 deny
	// line3.2 192.168.1.2-192.168.1.255 allow
	// line5.3 192.168.2.0-255.255.255.255 deny
	// line5.4 ::/0 deny
}
