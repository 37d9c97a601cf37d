// Package policy holds what users write: [Rule], [Settings] and [Policy],
// their strict JSON document form, and validation.
//
// It knows nothing about lookup structures: package check compiles a valid
// Policy into a snapshot that answers requests. A Policy is plain data; it
// is not safe for concurrent mutation, and [Policy.Clone] gives a copy that
// shares nothing mutable. Build one with [New], or [Allowlist] for a list
// of allowed targets; a Policy literal needs [DefaultSettings].
//
// Validation reports every problem at once: [Policy.Validate] returns an
// error that unwraps, as an errors.Join does, to a [*RuleError] (naming
// its rule by id) or a settings error for each of the first 10,000
// problems; its text lists the first 100 and then a line counting the
// rest. A disabled policy is
// validated all the same. A rule's expiry is at most 9999-12-31T23:59:59Z
// (SEMANTICS §3). Validate speaks of the Go fields (Target, TTL);
// [Decode] reports the same problems in the document's keys ("ip",
// "ttl").
//
// The package exports no sentinel errors. A caller tells problems apart by
// where they are, with errors.As: a [*RuleError] names the rule (Index,
// ID) and a [*DocError] the document's key (Path); a bad target's
// RuleError wraps the [*rangeset.ParseError], which errors.As finds too,
// and [rangeset.ErrEmpty] and [rangeset.ErrHostBits] through it. What is
// wrong is in the message, e.g. "duplicate id", "invalid target: ...",
// "expiry after 9999-12-31T23:59:59Z: ..." or "unknown key", which this
// package keeps stable.
//
// [Decode] and [DecodeReader] read a document in one pass, without a
// token-by-token decoder: they allocate little beyond the policy they
// return, and DecodeReader never holds the whole document. The encoders
// mirror them: [Policy.MarshalJSON] writes what json.Marshal would, byte
// for byte, and [Policy.WriteTo] streams what json.MarshalIndent would,
// never holding the whole document either.
// Every error quotes the user text it echoes (ids, keys, values) with
// rangeset.Quote, so that it holds no control characters and at most
// about 64 bytes of any one input.
package policy
