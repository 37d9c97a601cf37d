package lockout

// ErrOpensAllowlist is the guard's refusal of an allowlist left without
// allow rules, for the tests of package lockout_test.
var ErrOpensAllowlist = errOpensAllowlist
