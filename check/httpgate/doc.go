// Package httpgate guards net/http handlers with an ipgate decider (a
// [check.Snapshot], a [check.Checker], a follower) and finds the client
// address in a way that cannot be spoofed.
//
// It owns the HTTP side of a decision: reading the peer address and the
// forwarding headers of trusted proxies, the request's subject, and the
// answer to a denied request. It owns no policy and no lookup: every
// decision is the decider's.
//
// The most common way an IP allowlist fails is not the lookup but the
// address it is fed: a left-most X-Forwarded-For value the client wrote
// itself, one header line of several, or a malformed hop that makes the
// code fall back to the proxy's own address, which the allowlist passes.
// A [Gate] decides on the peer address alone unless the peer is one of
// [Options.TrustedProxies]. Behind trusted proxies it reads one header:
//
//   - X-Forwarded-For (the default): the elements are walked from the
//     right, across every header line, skipping trusted hops; the first
//     untrusted address decides. At most [Options.MaxHops] trusted hops
//     are skipped, so the work is bounded however long the header.
//   - Forwarded (RFC 7239, [Options.Forwarded]): each header line is
//     split whole, quoted strings and escapes respected, and the elements
//     are walked as X-Forwarded-For's, each by its one "for" parameter;
//     lines left of the one that decides are not read. An element with a
//     repeated parameter is unusable. More than 64 elements (or MaxHops+1,
//     if more) in the lines read are refused.
//   - A single-address header ([Options.ClientIPHeader], such as
//     CF-Connecting-IP, True-Client-IP or X-Real-IP) that the trusted
//     proxies set: exactly one address, never read from an untrusted peer.
//
// Anything it cannot read with certainty fails closed: an element that
// does not parse, an empty element, an obfuscated or "unknown" identifier,
// a trusted peer that sent no header, more trusted hops than the limit,
// and a chain in which every address is trusted (those are proxies'
// addresses; [Options.AllTrustedLeftmost] opts in to deciding on the
// left-most). Such a request is decided with the invalid address, which
// SEMANTICS §4 denies with reason invalid unless the policy is disabled
// (or exempts the subject), so that a disabled policy allows every
// request, as it says.
//
// Addresses are canonicalised as SEMANTICS §1 says: ports, brackets and
// zones are dropped, IPv4-mapped addresses unmapped. Trusted prefixes
// written IPv4-mapped (::ffff:10.0.0.0/104) are unmapped (10.0.0.0/8), so
// they trust the addresses they name. Errors echo header values only
// through [rangeset.Quote], so a header cannot forge a log line.
//
// A [Gate] is shaped like [http.CrossOriginProtection]: [Gate.Check]
// decides a request without a server, and [Gate.Handler] wraps a handler,
// answering denied requests with a 403 or with [Options.Deny].
package httpgate
