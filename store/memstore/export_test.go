package memstore

import "github.com/ipgate/ipgate/store"

// Validated returns how many rules the writes of s, made by New, validated
// (a policy's settings count as one): a single-rule write adds one.
func Validated(s store.Editor) int64 { return s.(*memStore).validated.Load() }
