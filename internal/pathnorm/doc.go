// Package pathnorm normalizes the path and validates the query of a request
// target exactly once, before routing, so that the path the gateway routes on
// (and authorizes, rate-limits, logs) is byte for byte the path it forwards.
//
// # Why
//
// Most path-based access-control bypasses are parser differentials: the
// gateway and the upstream read the same bytes as two different paths. Orange
// Tsai's "Breaking Parser Logic! Take Your Path Normalization Off and Pop 0days
// Out" (Black Hat USA 2018) catalogues the families this package closes:
//
//   - Path parameters: "/public/..;/admin" is under /public to nginx but is
//     "/admin" to Tomcat, which strips ";..." from a segment before resolving
//     dot segments (Apache Shiro CVE-2020-1957 is the same trick; Spring
//     matrix variables and ";jsessionid=" are cousins). Any ';' in the path,
//     raw or as %3B, is rejected.
//   - Encoded dots and slashes: "/.%2e/" and "/%2e%2e/" are names to a
//     component that resolves dot segments before decoding and ".." to one
//     that decodes first (Apache httpd CVE-2021-41773), and "%2F" is a
//     separator to some upstreams and data to others. Dot segments spelled
//     with an encoded dot, and every %2F, are rejected.
//   - Double encoding: "%%32%65" and "%252e" become "." after a second decode
//     (CVE-2021-42013, the incomplete fix of CVE-2021-41773). Any "%25" that
//     is followed by two hex digits is rejected; a malformed escape is rejected.
//   - Backslashes, NUL and control bytes: "\" is a separator on Windows and IIS,
//     NUL truncates paths in C-based upstreams, CR/LF enable header injection.
//     All are rejected, raw or encoded.
//   - Fragments: '#' never belongs in a request target; raw or %23 it is
//     rejected rather than guessed at.
//
// # Canonical form
//
// What is not rejected is rewritten into the RFC 3986 §6.2.2 normal form, so
// that two spellings of one resource route the same way:
//
//   - percent-encoded unreserved characters (ALPHA DIGIT "-" "." "_" "~") are
//     decoded, other escapes are kept with upper-case hex (§6.2.2.1, §6.2.2.2);
//   - raw bytes that are not pchar (RFC 3986 §3.3) are percent-encoded;
//   - runs of "/" are merged into one, like nginx merge_slashes (before dot
//     segments are resolved, so "/a//.." is "/"), and a trailing "/" is kept;
//   - literal "." and ".." segments are removed as in §5.2.4 remove_dot_segments;
//     a ".." that would climb above the root is rejected, never clamped.
//
// Letter case is never changed and the path is otherwise treated as opaque
// octets: bytes >= 0x80 are kept percent-encoded and UTF-8 is not validated.
// The canonical form is a fixed point: Path(out) == out for every accepted
// input. When the input already is canonical (the common case), Path returns
// it unchanged and does not allocate.
//
// # Out of scope
//
// Length limits (the caller answers 414), absolute-form and authority-form
// targets (the caller extracts the path first; anything not starting with "/"
// is rejected as not-origin-form), and upstreams that misdecode overlong UTF-8
// (Tomcat CVE-2008-2938 "%c0%ae"): such escapes are forwarded still encoded.
//
// # Query
//
// The query is validated, not rewritten: it is forwarded verbatim. Query
// rejects what Go's net/url silently mishandles or what a later decoder could
// be tricked by: ';' (url.ParseQuery drops the whole pair, so the gateway and
// an upstream that splits on ';' would see different parameters), malformed
// escapes, control bytes raw or encoded, a raw '#', and more than a bounded
// number of parameters.
//
// Every rejection is an *Error whose Reason is one of the Reason* constants.
package pathnorm
