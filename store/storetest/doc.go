// Package storetest is the conformance kit for [store.Editor]
// implementations. It owns what every store must pass and what every
// store is measured by:
//
//   - [Run] checks a store against the contract of the store package:
//     revisions and conflicts, rule and settings edits, queries,
//     concurrent writers, watches and change feeds, and that nothing a
//     read returns or a write is given shares memory with what the store
//     keeps. Every store in this module calls it from its tests, and a
//     store written elsewhere can too.
//   - [Bench] measures replacing, loading, listing, reading and patching
//     rules of a large policy, built by [Large], so that stores can be
//     compared on one workload.
package storetest
