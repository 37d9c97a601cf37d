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

var (
	actionNames     = []string{Allow: "allow", Deny: "deny"}
	defaultNames    = []string{DefaultAuto: "auto", DefaultAllow: "allow", DefaultDeny: "deny"}
	precedenceNames = []string{1: "mostSpecific", 2: "denyOverrides"} // by precedenceOf
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

// precedence is [Settings.DenyOverrides] as the document's "precedence"
// setting reads it: "mostSpecific" is false, "denyOverrides" true.
type precedence bool

// precedenceOf is the index in precedenceNames of the precedence that
// denyOverrides chooses.
func precedenceOf(denyOverrides bool) int {
	if denyOverrides {
		return 2
	}
	return 1
}

// UnmarshalText accepts exactly "mostSpecific" and "denyOverrides", letter
// case included, as the other settings' UnmarshalText methods do.
func (p *precedence) UnmarshalText(b []byte) error {
	v, err := enumParse(precedenceNames, string(b), "precedence")
	*p = v == 2
	return err
}
