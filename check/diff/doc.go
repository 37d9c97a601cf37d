// Package diff lists, exactly, the ranges of addresses whose decisions
// change: between two compiled snapshots of a policy ([Snapshots]), or
// between two instants of one snapshot as its rules expire ([Expiring]).
//
// Nothing is sampled. Both are built on [check.Snapshot.Pieces]: over the
// common refinement of the pieces of the snapshots compared, one decision
// per piece and subject decides the whole piece.
package diff
