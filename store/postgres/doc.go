// Package postgres is the store for a fleet of instances: policies live in
// PostgreSQL, rules as rows, and every commit bumps the policy's revision
// in the same transaction and sends a NOTIFY, which watchers LISTEN for
// (one connection per [Store], whatever the number of watchers and
// policies). After a lost connection the watchers reconnect, listen again
// and announce a change, so that their readers reload and no change is
// missed.
//
// Revisions are kept in the policy's row, which a commit locks: they grow
// by one with every commit, a policy deleted and created again included.
//
// [Open] needs the server's DSN: the package reads no environment and has
// no default server. The store creates its schema itself; creating it
// again is harmless.
package postgres
