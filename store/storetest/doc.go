// Package storetest is the conformance kit for [store.Editor]
// implementations. It owns what every store must pass: [Run] checks the
// stores a function makes against the contract of the store package:
// revisions and conflicts, rule and settings edits, queries, concurrent
// writers, watches and change feeds, and that nothing a read returns or a
// write is given shares memory with what the store keeps. Every store in
// this module calls it from its tests, and a store written elsewhere can
// too.
//
// The benchmarks that compare this module's stores on one workload are
// not part of the contract; they live in an internal package of store.
package storetest
