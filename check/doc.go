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
// This is the only package of ipgate that imports github.com/gaissmai/bart;
// no bart type appears in its API.
package check
