module github.com/ipgate/ipgate/examples/bench

go 1.24.0

replace github.com/ipgate/ipgate => ../..

require (
	github.com/gaissmai/bart v0.30.0
	github.com/ipgate/ipgate v0.0.0-00010101000000-000000000000
	github.com/yl2chen/cidranger v1.0.2
	go4.org/netipx v0.0.0-20260823151212-3075585bcbeb
)
