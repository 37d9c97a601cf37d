package httpgate

// The errors, for the tests of package httpgate_test.
var (
	ErrPeer       = errPeer
	ErrHeader     = errHeader
	ErrNoHeader   = errNoHeader
	ErrHops       = errHops
	ErrAllTrusted = errAllTrusted
)
