// Package rangeset holds IP address ranges and their text forms: the
// rule-target parser, the query-address parser and the [Range] value that
// both IPv4 and IPv6 rules are written in.
//
// It knows nothing about rules or decisions. Every parser here is strict and
// linear in the length of its input: nothing is silently repaired, and every
// rejection is a [*ParseError] that names the function, quotes the input and
// says what is wrong. Two problems have exported sentinels, for errors.Is:
// [ErrEmpty], an empty input, and [ErrHostBits], a prefix with host bits
// set, whose message names the canonical form; those are the two a caller
// acts on. The others (a bad address or prefix length, a reversed range,
// mixed families, a zone, an IPv4-mapped address) are told only by the
// message.
package rangeset
