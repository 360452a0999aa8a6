// Package config loads and validates Rampart's declarative YAML (or JSON) config into
// the typed Config (see types.go), applying every documented default.
//
// Each control owns the type of its section (cors.Config, jwt.Config, ratelimit.Config,
// ...; see internal/config/conf): its keys, defaults and simple rules are struct tags,
// its rules across keys a Validate method, its documentation the field comments.
// Config composes those types; decode reads any of them by its tags, so the loader
// keeps code only for its own sections (server, admin, routes) and for the checks that
// relate sections (references, overlapping routes, listener conflicts). Positions of
// every key, definition and list entry are kept (Config.At), so problems found later,
// while compiling the gateway, still point into the file. The reference
// (docs/config.md) and the JSON Schema (Schema, `rampart config schema`) are generated
// from the same types; TestGenerated fails when they are stale.
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
