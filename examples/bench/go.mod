module github.com/ipgate/ipgate/examples/bench

go 1.24.0

replace github.com/ipgate/ipgate => ../..

require (
	github.com/gaissmai/bart v0.30.0
	github.com/jackc/pgx/v5 v5.8.0
	github.com/ipgate/ipgate v0.0.0-00010101000000-000000000000
	github.com/yl2chen/cidranger v1.0.2
	go4.org/netipx v0.0.0-20260823151212-3075585bcbeb
)

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.2 // indirect
	golang.org/x/sync v0.17.0 // indirect
	golang.org/x/text v0.29.0 // indirect
)
