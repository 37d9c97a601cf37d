// Package rangeset holds IP address ranges and their text forms: the
// rule-target parser, the query-address parser and the [Range] value that
// both IPv4 and IPv6 rules are written in.
//
// It knows nothing about rules or decisions. Every parser here is strict and
// linear in the length of its input: nothing is silently repaired, and every
// rejection is a [*ParseError] that names the function, quotes the input and
// wraps one of the sentinel errors, so that errors.Is works.
package rangeset
