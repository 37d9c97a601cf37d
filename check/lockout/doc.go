// Package lockout keeps a store from locking its administrators out: a
// [Guard] refuses any write after which a kept range (the admin's own
// address, a break-glass network) would be denied, at once or when its
// rules expire, or after which an auto allowlist would silently allow
// every address.
//
// The check is exact: [Denies] decides one address per piece of the kept
// range ([check.Snapshot.Pieces]), which decides the whole range.
package lockout
