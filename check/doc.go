// Package check is ipgate's decision engine: it compiles a
// [policy.Policy] into an immutable [Snapshot] that decides requests, and
// holds the live [Checker] that many goroutines read without locks while a
// new snapshot is swapped in.
//
// A decision follows SEMANTICS §4 exactly: the disabled switch, the mobile
// exemption, invalid addresses, admin-only rules, expiry at the request's
// instant, precedence by the number of addresses a target holds (not by
// prefix length), and the default action. [Snapshot.Check] is one
// longest-prefix lookup in a table of the rules' prefix covers: it does not
// allocate and takes no lock. A request with a zero instant is decided
// now: the clock is read for it only when a rule of the policy expires, so
// that no expired rule ever decides, however late a timer runs.
//
// A [Checker] changes one rule at a time ([Checker.Put], [Checker.Delete],
// or an [Checker.Update] that differs in a few rules) with bart's
// copy-on-write operations on just the prefixes the rule touches, and
// re-ranks only the rules that expire.
//
// [Snapshot.Explain] says why a request was decided as it was, and
// [Snapshot.Pieces] cuts a range where a decision may change: the exact
// analyses are built on it in packages of their own.
//
// The packages beneath check build on its public API alone:
//   - check/follow: checkers that follow a store, one policy or many.
//   - check/httpgate: the net/http guard deciding on the client address.
//   - check/lint, check/diff: warnings about a policy, and the ranges whose
//     decision two snapshots (or two instants) differ on.
//   - check/lockout: a store write guard that keeps admins from locking
//     themselves out.
//   - check/observe: shadow evaluation of a candidate policy and per-rule
//     hit counts on live traffic.
//   - check/ordered: first-match lists (nginx allow/deny) turned into
//     policies with the same decisions.
//   - check/export: a policy written as nginx, HAProxy or nftables
//     configuration with the same decisions.
//
// This is the only package of ipgate that imports github.com/gaissmai/bart;
// no bart type appears in its API.
package check
