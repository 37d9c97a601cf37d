package filestore

// Decoded returns how many documents s read and decoded.
func Decoded(s *Store) int64 { return s.files.decoded.Load() }
