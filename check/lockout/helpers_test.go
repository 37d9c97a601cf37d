package lockout_test

import "github.com/ipgate/ipgate/check/internal/checktest"

// The random policies and probes every sub-package of check tests with.
var (
	t0           = checktest.T0
	randomPolicy = checktest.RandomPolicy
	probes       = checktest.Probes
	rule         = checktest.Rule
	randTarget   = checktest.RandTarget
)
