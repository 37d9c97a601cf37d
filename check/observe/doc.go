// Package observe watches live traffic as it is decided: [Shadow] tries a
// candidate policy beside the live one, counting the requests it would
// decide differently, and [Hits] counts the requests each rule decides and
// when it last decided one, for pruning rules nobody hits.
//
// Both wrap a decider, the Check method of a [*check.Checker], a
// [*check.Snapshot], a follower or another observer, and have a Check
// method themselves, so they slot in wherever a decision is asked for,
// such as an HTTP guard. Only the wrapped decider decides: an observer
// returns its decision unchanged and never fails a request.
//
// Neither starts a goroutine when made or holds anything that needs
// closing; each is garbage once unreferenced. Both are safe for concurrent
// use; each type states its cost per request.
package observe
