// Package check compiles a [policy.Policy] into an immutable [Snapshot]
// that decides requests, and holds the live [Checker] that many goroutines
// read without locks while a new snapshot is swapped in.
//
// A decision follows SEMANTICS §4 exactly: the disabled switch, the mobile
// exemption, invalid addresses, admin-only rules, expiry at the request's
// instant, precedence by the number of addresses a target holds (not by
// prefix length), and the default action. [Snapshot.Check] is one
// longest-prefix lookup in a table of the rules' prefix covers: it does not
// allocate, takes no lock and reads no clock.
//
// A [Checker] changes one rule at a time ([Checker.Put], [Checker.Delete],
// or an [Checker.Update] that differs in a few rules) with bart's
// copy-on-write operations on just the prefixes the rule touches, and
// re-ranks only the rules that expire; [Follow] keeps it in step with a
// store.
//
// Around the decision: [Snapshot.Explain] says why, [Diff] and
// [Snapshot.Expiring] give the exact ranges whose decisions change, [Lint]
// finds rules that never win and other smells, [Guard] keeps a store from
// locking its admins out, and [Shadow] and [Hits] observe live traffic.
//
// This is the only package of ipgate that imports github.com/gaissmai/bart;
// no bart type appears in its API.
package check
