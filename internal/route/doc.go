// Package route is Rampart's compiled request router: it maps a (host,
// method, canonical path) triple to the id of a configured route, or tells
// the caller to answer 404 or 405.
//
// # Input contract
//
// Match expects the path produced by package pathnorm: it starts with "/",
// has no "//" and no dot segments, and percent-escapes are upper-case while
// escaped unreserved characters are decoded. The router never decodes or
// rewrites the path; literal template segments are compared byte for byte,
// case-sensitively. Templates that could never match a canonical path (an
// escaped unreserved character such as "%41", an escaped "/", a ";") are
// rejected by New rather than silently becoming dead routes.
//
// # Templates
//
// A template is a sequence of "/"-separated segments. A segment is either a
// literal (RFC 3986 pchar) or exactly "{name}", which matches one non-empty
// segment. The final segment may be "{name...}", a catch-all that matches the
// rest of the path including slashes, possibly empty: "/files/{rest...}"
// matches "/files/a/b" (rest = "a/b"), "/files/" and "/files" (rest = "").
// A trailing slash is significant: "/a/" and "/a" are different routes.
// At most MaxParams parameters are allowed per template.
//
// # Precedence
//
// Segment by segment, from the left: a literal beats "{param}", which beats
// "{rest...}"; a path that ends exactly at a route beats a catch-all that
// would match the same path with an empty rest. When the preferred branch
// fails further down, the router backtracks, so with "/a/{id}/x" and
// "/a/b/y" both "/a/b/x" and "/a/b/y" match. The method takes part in the
// search: the most specific route whose path matches AND that lists the
// method wins. Only if no route matching the path lists the method is the
// answer 405, and Allow is then the sorted union of the methods of every
// route that matches the path.
//
// Deny routes (Spec.Deny) sit above this order: a deny route that matches
// the host, method and path wins over every other route, however specific,
// so "/users/{rest...}" denied beats an allowed "/users/{name}". Deny routes
// never appear in a 405's Allow: a request they match for another method
// is routed as if they did not exist.
//
// Methods are case-sensitive tokens and nothing is implied: a route listing
// GET does not answer HEAD or OPTIONS. This is deliberate: a HEAD that was
// never configured is a request the policy for the route was not written for,
// so it must be listed explicitly to be allowed.
//
// Routes with a Host are tried before host-less routes. A host-specific route
// set shadows host-less routes only for the paths it matches (including by
// answering 405); when none of the host's routes matches the path, the
// host-less routes are tried. Hosts are compared ASCII case-insensitively,
// after removing a ":port" (bracketed IPv6 literals such as "[::1]:8080" are
// handled) and one trailing dot. Unicode case folding is deliberately not
// used (EqualFold would fold the Kelvin sign to "k"); internationalized hosts
// must be configured in their ASCII (punycode) form. A request host that is
// malformed (bad port, unbracketed IPv6, non-ASCII) matches no host-specific
// route and gets exactly the host-less routes, like any unknown host.
//
// # Conflicts
//
// New rejects, all at once, malformed specs (*SpecError) and pairs of routes
// that could match the same request with the same method and host without a
// precedence rule separating them (*OverlapError): templates of the same
// shape, where parameters in the same position count as equal ("/a/{id}" and
// "/a/{name}", or two catch-alls with the same prefix). "/a/{id}" and "/a/b"
// do not overlap: the literal wins.
//
// # Why zero allocations
//
// Routing runs on every request before authentication, so its cost is paid
// by attackers as well as by clients. Match walks a segment trie built by New
// using string indexes (no strings.Split), fills a caller-provided fixed-size
// Params with substrings of the path, lowercases the host into a stack
// buffer, and returns 405 Allow strings precomputed at New. Static routes,
// parameterised routes and 405 answers therefore allocate nothing, which
// keeps latency flat and the garbage collector out of the hot path. The trie
// walk visits each trie node at most once per request, so the work is bounded
// by the size of the configuration, never by backtracking blow-up.
//
// A Router is immutable after New and safe for concurrent use.
package route
