// Package ordered imports ordered first-match access lists, such as
// nginx's allow and deny directives, as order-free policies with exactly
// the same decisions.
//
// [Policy] converts a list of [Entry] values; [ParseNginx] reads nginx
// directives into such a list. The conversion is exact on every address,
// including the IPv4-mapped block: it decides one address per piece of the
// address space ([check.Snapshot.Pieces]) by the list's first match.
package ordered
