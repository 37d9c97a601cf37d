package policy

import (
	"fmt"
	"strconv"

	"github.com/ipgate/ipgate/rangeset"
)

// Action is what a rule does with the addresses it matches. The zero Action
// is invalid.
type Action uint8

// The actions.
const (
	Allow Action = iota + 1 // "allow"
	Deny                    // "deny"
)

// DefaultAction is a policy's outcome for an address that no live rule
// matches. The zero DefaultAction is invalid.
type DefaultAction uint8

// The default actions (SEMANTICS §4 step 7).
const (
	// DefaultAuto denies when the policy has an applicable allow rule (live or
	// expired), and allows otherwise: a policy with allow rules is an allowlist.
	DefaultAuto  DefaultAction = iota + 1 // "auto"
	DefaultAllow                          // "allow"
	DefaultDeny                           // "deny"
)

// Precedence says which of several matching rules wins. The zero Precedence
// is invalid.
type Precedence uint8

// The precedences (SEMANTICS §4 step 6).
const (
	// MostSpecific: the rule whose target holds the fewest addresses wins; at
	// equal size deny beats allow, then the smallest id wins.
	MostSpecific Precedence = iota + 1 // "mostSpecific"
	// DenyOverrides: the narrowest matching deny wins if there is one, else the
	// narrowest allow; ties as for MostSpecific.
	DenyOverrides // "denyOverrides"
)

var (
	actionNames     = []string{Allow: "allow", Deny: "deny"}
	defaultNames    = []string{DefaultAuto: "auto", DefaultAllow: "allow", DefaultDeny: "deny"}
	precedenceNames = []string{MostSpecific: "mostSpecific", DenyOverrides: "denyOverrides"}
)

func enumString(names []string, v uint8, typ string) string {
	if int(v) < len(names) && v != 0 {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}

func enumMarshal(names []string, v uint8, typ string) ([]byte, error) {
	if int(v) < len(names) && v != 0 {
		return []byte(names[v]), nil
	}
	return nil, fmt.Errorf("policy: cannot marshal invalid %s(%d)", typ, v)
}

// enumParse matches s exactly (letter case included) against names.
func enumParse(names []string, s, typ string) (uint8, error) {
	for i, n := range names {
		if i != 0 && n == s {
			return uint8(i), nil
		}
	}
	return 0, fmt.Errorf("%w %s %s", errUnknownValue, typ, rangeset.Quote(s))
}

// IsValid reports whether a is Allow or Deny.
func (a Action) IsValid() bool { return a == Allow || a == Deny }

// String returns "allow" or "deny", or "Action(N)" for an invalid value.
func (a Action) String() string { return enumString(actionNames, uint8(a), "Action") }

// MarshalText implements [encoding.TextMarshaler]; an invalid Action is an error.
func (a Action) MarshalText() ([]byte, error) { return enumMarshal(actionNames, uint8(a), "Action") }

// UnmarshalText implements [encoding.TextUnmarshaler]. It accepts exactly
// "allow" and "deny", letter case included.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := enumParse(actionNames, string(b), "action")
	*a = Action(v)
	return err
}

// IsValid reports whether d is one of the defined default actions.
func (d DefaultAction) IsValid() bool { return d >= DefaultAuto && d <= DefaultDeny }

// String returns "auto", "allow" or "deny", or "DefaultAction(N)".
func (d DefaultAction) String() string { return enumString(defaultNames, uint8(d), "DefaultAction") }

// MarshalText implements [encoding.TextMarshaler]; an invalid value is an error.
func (d DefaultAction) MarshalText() ([]byte, error) {
	return enumMarshal(defaultNames, uint8(d), "DefaultAction")
}

// UnmarshalText implements [encoding.TextUnmarshaler], matching letter case exactly.
func (d *DefaultAction) UnmarshalText(b []byte) error {
	v, err := enumParse(defaultNames, string(b), "defaultAction")
	*d = DefaultAction(v)
	return err
}

// IsValid reports whether p is MostSpecific or DenyOverrides.
func (p Precedence) IsValid() bool { return p == MostSpecific || p == DenyOverrides }

// String returns "mostSpecific" or "denyOverrides", or "Precedence(N)".
func (p Precedence) String() string { return enumString(precedenceNames, uint8(p), "Precedence") }

// MarshalText implements [encoding.TextMarshaler]; an invalid value is an error.
func (p Precedence) MarshalText() ([]byte, error) {
	return enumMarshal(precedenceNames, uint8(p), "Precedence")
}

// UnmarshalText implements [encoding.TextUnmarshaler], matching letter case exactly.
func (p *Precedence) UnmarshalText(b []byte) error {
	v, err := enumParse(precedenceNames, string(b), "precedence")
	*p = Precedence(v)
	return err
}
