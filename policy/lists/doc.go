// Package lists reads the address lists that allowlists and denylists are
// fed from, as published, into policy rules tagged with their source. [Read]
// takes the format by name:
//
//   - "plain": one address, CIDR or range per line, "#" comments and blank
//     lines (FireHOL netsets and most hand-kept lists);
//   - "spamhaus": the DROP and EDROP lists, "1.10.16.0/20 ; SBL256894",
//     with ";" comments, or their JSON form (drop_v4.json, drop_v6.json);
//   - "aws": ip-ranges.json (prefixes[].ip_prefix and
//     ipv6_prefixes[].ipv6_prefix), filtered by service and region;
//   - "github": the meta API document (api.github.com/meta), the arrays of
//     the keys chosen ("hooks", "web", "git", ...);
//   - "cloudflare": the ips-v4 and ips-v6 text files, or the JSON of the
//     API (result.ipv4_cidrs and result.ipv6_cidrs);
//   - "google": goog.json and cloud.json (prefixes[].ipv4Prefix and
//     ipv6Prefix), cloud.json filtered by service and scope.
//
// # Source tags
//
// Every rule is named "SOURCE:TARGET", the source tag (Options.Source,
// by default the format's name, such as "spamhaus") and the canonical text
// of its target: "aws:3.5.140.0/22". An id therefore stays the same when
// the list is fetched again and the entry has moved, so that a diff of two
// imports shows what the list changed. Its comment starts with the tag too,
// then says where the entry came from: "spamhaus: SBL256894",
// "aws: EC2 us-east-1", "github: hooks", "firehol: line 12". The text
// taken from a list is made valid UTF-8, each character that is not
// printable (controls, bidirectional overrides, line separators) a space,
// and cut after 200 bytes with "...". An entry
// listed twice (AWS lists a prefix under AMAZON and under EC2; GitHub's
// keys share prefixes) makes one rule, from its first occurrence.
//
// Add the rules to a policy's with append: validating or compiling the
// policy refuses an id given twice, naming it, so that two imports tagged
// alike cannot silently shadow each other.
//
// # Errors
//
// Parsing is strict about the entries and lenient about what surrounds
// them: keys of a JSON document that the format does not use are ignored,
// as the providers add keys over time, but every entry must be an address,
// a CIDR prefix or a range as [rangeset.ParseRange] reads it, of the
// family its field names (an IPv6 prefix under AWS's ip_prefix is an
// error). A key the format uses must be written exactly once, in its
// letters: encoding/json would silently take the last of two, or a
// variant in other letters. A CIDR with host bits set (10.0.0.5/24) is
// refused, not masked: a list that says so is damaged or means a single
// host, and guessing which widens or narrows an allowlist silently. Each
// bad entry is an error naming its line (or its JSON path) and quoting the
// text; up to 20 are reported, then a count of the rest, and no rules are
// returned.
//
// A list with no entries is an error that wraps [rangeset.ErrEmpty]: a
// failed or cut download must not pass for an empty list, which would drop
// every rule the list fed (and turn an auto allowlist fed by it alone into
// allow-all). A caller that accepts an empty list tests for it with
// errors.Is. Spamhaus's JSON form must hold its metadata line (the last,
// as published), and the count of records it gives must match.
//
// The parsers read the whole input. Bound it when it comes from the network
// with a reader that fails past the bound, such as
// http.MaxBytesReader(nil, resp.Body, n), whose error the parsers' error
// wraps: io.LimitReader ends the input quietly, and a list cut inside its
// last line can end in a different valid entry (192.168.1.10 cut to
// 192.168.1.1).
//
// The package uses only the standard library and packages policy and
// rangeset.
package lists
