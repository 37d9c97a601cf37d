package filestore

import "github.com/ipgate/ipgate/store"

// Decoded returns how many documents s, made by Open, read and decoded.
func Decoded(s store.Editor) int64 { return s.(*fileStore).files.decoded.Load() }

// ErrName is the error wrapped by the refusal of a policy name.
var ErrName = errName
