// Package export writes the decisions of a policy, for one subject at one
// instant, in the access-list forms of other software: nginx allow and
// deny directives, an HAProxy ACL file and nftables sets, each a format of
// [Write].
//
// Every export is exact, not an approximation: it decides one address per
// piece of the address space ([check.Snapshot.Pieces]) with
// [check.Snapshot.Check], merges adjacent pieces of one outcome, and writes
// the fewest CIDR prefixes of each range. The package's tests import each
// export back (nginx through check/ordered, HAProxy with a model of its
// address matching, nftables with a parser of the sets) and compare the
// decisions on every piece of both families, the IPv4-mapped block
// ::ffff:0:0/96 included, on random policies with admin-only and expiring
// rules.
//
// An export holds for the subject and instant it was made for, and until
// the next rule expiry after that instant, which its header comment names:
// export again then (or on every change of the policy). The subject's
// admin and mobile flags matter as in [check.Request]: admin-only rules are
// written only for an admin; a policy that does not apply to mobile
// clients exports allow-all for a mobile subject, as a disabled policy does
// for every subject.
//
// # The IPv4-mapped block
//
// SEMANTICS §1 decides ::ffff:a.b.c.d as a.b.c.d. nginx does the same
// where the block holds an IPv4 directive, as every export's last line
// "allow all;" or "deny all;" is, so its export may cover the block with
// IPv6 lines or not. HAProxy matches an
// IPv4 client against IPv6 entries as ::ffff:a.b.c.d when no IPv4 entry
// matches, and an IPv6 client of ::/96, ::ffff:0:0/96 or 2002::/16 against
// IPv4 entries as the IPv4 address embedded, when no IPv6 entry matches;
// so the HAProxy file writes IPv4 entries in IPv4-mapped form, which makes
// every lookup exact (see [Write]). nftables sees packets, which carry
// no mapped source addresses (RFC 4291 §2.5.5.2), and its IPv6 set holds
// no address of the block.
package export
