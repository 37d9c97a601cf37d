module github.com/ipgate/ipgate

go 1.24.0

require go4.org/netipx v0.0.0-20260823151212-3075585bcbeb

require (
	github.com/gaissmai/bart v0.30.0 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
)
