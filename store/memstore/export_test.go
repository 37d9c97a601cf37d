package memstore

// Validated returns how many rules the writes of s validated (a policy's
// settings count as one): a single-rule write adds one.
func Validated(s *Store) int64 { return s.validated.Load() }
