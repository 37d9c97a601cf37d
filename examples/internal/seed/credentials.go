package seed

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/ipgate/ipgate/rangeset"
)

// Principal is whom a credential belongs to: an account (a tenant: a
// portal, site or account of the product) and whether its holder is an
// administrator there.
type Principal struct {
	Account string
	Admin   bool
}

// Credentials map secret tokens to principals. Lookups compare every
// stored token in constant time, so that timing tells nothing about a
// token. The zero Credentials holds none. Add must not be called
// concurrently with Lookup.
type Credentials struct {
	entries []credential
}

type credential struct {
	sum [sha256.Size]byte
	p   Principal
}

// Add adds token for p; an empty or repeated token is refused.
func (c *Credentials) Add(token string, p Principal) error {
	if token == "" {
		return errors.New("empty token")
	}
	if _, ok := c.Lookup(token); ok {
		return errors.New("a token is given twice")
	}
	c.entries = append(c.entries, credential{sha256.Sum256([]byte(token)), p})
	return nil
}

// Lookup returns the principal token belongs to, and reports whether it
// belongs to any.
func (c *Credentials) Lookup(token string) (Principal, bool) {
	sum := sha256.Sum256([]byte(token))
	var found Principal
	ok := 0
	for _, e := range c.entries {
		// Every entry is compared: no early exit.
		if m := subtle.ConstantTimeCompare(sum[:], e.sum[:]); m == 1 {
			found, ok = e.p, 1
		}
	}
	return found, ok == 1
}

// Accounts returns the accounts the credentials name, sorted, each once.
func (c *Credentials) Accounts() []string {
	var out []string
	for _, e := range c.entries {
		out = append(out, e.p.Account)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Bearer returns the token of r's "Authorization: Bearer" header, or "".
func Bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// loadCredentials returns the administrator's token of account, then
// the credentials of file, when not "": one per line, "TOKEN admin|user
// ACCOUNT", blank lines and lines starting with # ignored.
func loadCredentials(token, account, file string) (*Credentials, error) {
	c := new(Credentials)
	if token == "" {
		return nil, errNoToken
	}
	if err := c.Add(token, Principal{Account: account, Admin: true}); err != nil {
		return nil, fmt.Errorf("$%s: %v", tokenEnv, err)
	}
	if file == "" {
		return c, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 || fields[1] != "admin" && fields[1] != "user" {
			return nil, fmt.Errorf("%s:%d: want TOKEN admin|user ACCOUNT, got %d fields starting %s", file, n, len(fields), rangeset.Quote(roleOf(fields)))
		}
		if err := c.Add(fields[0], Principal{Account: fields[2], Admin: fields[1] == "admin"}); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, n, err)
		}
	}
	return c, sc.Err()
}

// roleOf returns the second field, never the first (a secret), for an
// error message.
func roleOf(fields []string) string {
	if len(fields) > 1 {
		return fields[1]
	}
	return ""
}
