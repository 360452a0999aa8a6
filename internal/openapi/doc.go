// Package openapi enforces an OpenAPI 3.0/3.1 document at the edge: only
// documented operations are reachable (reject_undocumented), only
// well-formed requests reach the upstream (validate_requests: OWASP
// injection and mass assignment), and only declared response fields leave
// it (filter_responses: OWASP API3, excessive data exposure).
//
// # Compiled at load, not interpreted per request
//
// Load reads the document (file or http(s) URL, JSON or YAML), resolves
// its $refs (same file, relative files, other origins with remote_refs),
// and compiles every operation into plain Go
// structures: a route.Router over the document's path templates, decoded
// parameters with their serialization style, and each schema as a graph of
// compiled keywords (regular expressions compiled, enums decoded, $ref
// cycles turned into pointers). A request then costs one router match, one
// strict parse of the body into a pooled tree (package strictjson) and a
// walk of the compiled schema: about 3 µs and no allocation for a typical
// 1 KB JSON body, where interpreting validators spend 35 µs or more (issue
// 9). Patterns follow ECMA-262: on RE2 where it means the same, else on a
// backtracking engine with a match timeout and a per-request budget (a
// request that exceeds it is refused). A document the package cannot fully
// enforce (a $dynamicRef whose target depends on the evaluation path,
// two parameters in one path segment, ambiguous paths...) is a load error
// naming the document, the file and the JSON pointer: never a rule
// silently skipped.
//
// # Requests
//
// Parameters (path, query, header, cookie) are read per their style and
// checked against their schema; a parameter string is read as a number or
// boolean only where the schema admits one. Repeating a parameter that is not
// an array is refused (frameworks disagree on which value wins). Bodies must
// have a Content-Type the operation declares (compared case-insensitively;
// 415 otherwise, so text/plain, form and multipart bodies cannot reach a
// JSON operation as CSRF "simple requests"), and JSON, form and multipart
// bodies are validated against their schema. JSON goes through the
// hardened parser first (duplicate keys, depth, NaN, 1e400, invalid UTF-8,
// lone surrogates, BOM, comments, trailing commas and data: see package
// strictjson).
//
// Rampart's object rules go beyond JSON Schema: a property no applicable
// schema declares is refused even without additionalProperties: false
// (mass assignment; unknown_fields: allow relaxes it), a key differing only
// in case from a declared property is always refused (Go's encoding/json
// would bind it), and a readOnly property in a request is refused. The
// applicable schemas of an object are its own, those reached through $ref
// and allOf, the anyOf/oneOf branches it matches (or the one its
// discriminator names) and if/then/else; an object whose schemas declare
// no property at all ({"type": "object"}) is free-form. Unknown query
// parameters are refused the same way, except the query credentials of
// apiKey security schemes.
//
// Failures are 400 problem+json of type "request-invalid" whose detail
// lists up to ten failing fields as JSON pointers into the request
// ("/body/items/0/price", "/query/limit", "/path/id", "/header/X-Trace",
// "/cookie/session") with a reason, never the value; the Rejection's Err is
// a *ValidationError with the same list for the logs.
//
// # Responses
//
// With filter_responses, JSON responses (application/json and */*+json) of
// operations with a documented schema are held back up to
// max_response_bytes, parsed, and every property the response schema for
// that status (exact, then 2XX, then default) does not declare is removed
// (strip) or the response is replaced by a 502 (reject); writeOnly
// properties are removed too. Content-Length is recomputed and ETag and
// digests dropped. Only names reach the logs: ResponseEvent.Fields holds
// pointers with array indexes written "*". Streams and non-JSON bodies pass
// through untouched and unbuffered, and JSON that cannot be filtered (gzip
// sent anyway, NaN, duplicate keys) fails closed with a 502. A value of a
// type the schema does not allow is a 502 (reject) or a ResponseWrongType
// event (strip). Larger bodies are filtered as they stream (stream.go), in
// memory bounded by max_response_bytes; failures found after the status
// line is out abort the connection. Schemas that need lookahead to filter
// (oneOf between object shapes...) make larger bodies a 502, or with
// oversized_responses: pass a ResponsePassedOversized event. The filter
// removes Accept-Encoding from the upstream request so that bodies arrive
// unencoded. The response writer keeps http.ResponseController working
// (Unwrap; Flush is held while the body is).
//
// # Wiring
//
//	doc, err := openapi.Load(ctx, openapi.Config{Name: "inventory", Spec: "openapi.json",
//		ValidateRequests: true, FilterResponses: "strip", RejectUndocumented: true}, nil)
//	step := doc.Middleware(openapi.Deps{Observer: obs, OnResponse: audit})
//	handler := pipeline.Chain(upstream, /* auth, rate limits... */ bodyLimit, step)
//
// The step must run after the body is buffered and immediately before the
// proxy. Document.Routes generates routes from the operations
// (routes_from_spec).
package openapi
