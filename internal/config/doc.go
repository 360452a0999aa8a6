// Package config loads and validates Rampart's declarative YAML (or JSON) config into
// the typed Config (see types.go), applying every documented default.
//
// The loader is strict by design, and reports every problem at once as
// "FILE:LINE:COL: MESSAGE" (Errors, sorted by position):
//
//   - The file is decoded through yaml.Node, so each problem points at the offending key
//     or value. One UTF-8 document of at most 4 MiB whose top level is a mapping.
//     Anchors and aliases, merge keys (<<) and non-core tags (!!binary, !custom) are
//     refused: nothing to expand, nothing to audit twice.
//   - Unknown keys (with a "did you mean" for likely typos), duplicate keys, wrong types,
//     unitless durations, out-of-range sizes, dangling references between sections,
//     overlapping routes and unsafe combinations are errors, never warnings.
//   - Every scalar value (never a key) is interpolated before conversion: ${NAME} from
//     the environment, $$ for a literal $. Messages name variables, never their values,
//     and never echo secrets (admin.token, secret, client_secret) or URLs that may carry
//     credentials (store, shared_state, upstream targets); a value that came from the
//     environment is shown as written in the file.
//
// Parse does no I/O beyond what its caller did: files named by the config (certificates,
// key files, OpenAPI documents) are checked by the packages that read them.
package config
