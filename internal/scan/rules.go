package scan

import "fmt"

// Rule is one kind of weakness the scanner looks for. IDs are stable: they
// appear in JSON and SARIF reports and in CI suppressions, so a rule is never
// renumbered; a retired rule's ID is not reused.
type Rule struct {
	ID    string // e.g. "ERR001"
	Name  string // kebab-case, e.g. "stack-trace-disclosure" (SARIF rule name)
	Title string // one line, for humans
	// Severity is the rule's default. A finding may differ when the rule
	// says so in Description (e.g. plain HTTP to a loopback address is info).
	Severity    Severity
	OWASP       string // OWASP API Security Top 10 (2023) category, e.g. "API8:2023"
	CWE         int
	Description string // what the scanner checks and what a finding means
	Remediation string // how to fix it in the service
	Rampart     string // the Rampart config or behaviour that prevents it
}

// owaspTitles names the OWASP API Security Top 10 (2023) categories.
var owaspTitles = map[string]string{
	"API1:2023":  "Broken Object Level Authorization",
	"API2:2023":  "Broken Authentication",
	"API3:2023":  "Broken Object Property Level Authorization",
	"API4:2023":  "Unrestricted Resource Consumption",
	"API5:2023":  "Broken Function Level Authorization",
	"API6:2023":  "Unrestricted Access to Sensitive Business Flows",
	"API7:2023":  "Server Side Request Forgery",
	"API8:2023":  "Security Misconfiguration",
	"API9:2023":  "Improper Inventory Management",
	"API10:2023": "Unsafe Consumption of APIs",
}

// OWASPTitle is "API8:2023 Security Misconfiguration".
func (r *Rule) OWASPTitle() string { return r.OWASP + " " + owaspTitles[r.OWASP] }

// CWEID is "CWE-209".
func (r *Rule) CWEID() string { return fmt.Sprintf("CWE-%d", r.CWE) }

const corsFix = `cors:
  web:
    allow_origins: ["https://app.example.com"]   # exact origins; never reflected
    allow_credentials: true                      # refused at load together with "*"
routes:
  - { name: items, path: /api/items, methods: [GET], upstream: inventory, auth: [corp_sso], cors: web }`

const jwtFix = `authenticators:
  corp_sso: { type: jwt, issuer: "https://idp.example.com/", discovery: true,
              audiences: [inventory-api], algorithms: [RS256, ES256], leeway: 30s }
routes:
  - { name: items, path: /api/items/{id}, methods: [GET], upstream: inventory, auth: [corp_sso] }`

const maskFix = `upstreams:
  inventory: { targets: ["http://127.0.0.1:8000"], mask_upstream_errors: true }   # the default
openapi:
  inventory: { spec: ./openapi.json, validate_requests: true }`

const headerProfile = `Always on: the strict API header profile (X-Content-Type-Options: nosniff,
X-Frame-Options: DENY, Content-Security-Policy: default-src 'none'; frame-ancestors 'none',
Cache-Control: no-store on authenticated responses, HSTS with TLS) on every response.
Routes that serve browsers override it with routes[].headers.`

// Rules is the catalogue, in report order. Do not reorder IDs.
var Rules = []*Rule{
	// Transport
	{ID: "TLS001", Name: "plain-http", Title: "API served over plain HTTP without a redirect to HTTPS",
		Severity: High, OWASP: "API8:2023", CWE: 319,
		Description: "The API answers over http:// instead of redirecting to https://, so credentials and data cross the network in clear text. " +
			"For a loopback target (127.0.0.0/8, ::1, localhost) the finding is info: the traffic never leaves the machine.",
		Remediation: "Serve the API over HTTPS only; answer plain HTTP with a permanent redirect (308) to the https:// URL, or not at all.",
		Rampart: `server:
  listen: ":8443"
  tls: { cert_file: tls.crt, key_file: tls.key }   # TLS 1.3 by default
  http_redirect: ":8080"                           # plain listener that only answers 308`},
	{ID: "TLS002", Name: "legacy-tls", Title: "TLS 1.0 or 1.1 accepted",
		Severity: Medium, OWASP: "API8:2023", CWE: 327,
		Description: "A handshake limited to TLS 1.0/1.1 succeeded. Both versions are deprecated (RFC 8996) and lack modern AEAD cipher suites.",
		Remediation: "Disable TLS 1.0 and 1.1; accept TLS 1.2 with AEAD suites at most, TLS 1.3 preferably.",
		Rampart:     `server: { tls: { cert_file: tls.crt, key_file: tls.key, min_version: "1.3" } }   # "1.3" is the default; "1.2" is the lowest accepted`},
	{ID: "TLS003", Name: "tls13-not-offered", Title: "TLS 1.3 not offered",
		Severity: Low, OWASP: "API8:2023", CWE: 326,
		Description: "A handshake requiring TLS 1.3 failed: the server negotiates TLS 1.2 at best.",
		Remediation: "Enable TLS 1.3 (faster handshakes, no legacy cipher suites, forward secrecy always).",
		Rampart:     `server: { tls: { cert_file: tls.crt, key_file: tls.key } }   # min_version "1.3" by default`},
	{ID: "TLS004", Name: "hsts-missing", Title: "Strict-Transport-Security missing on HTTPS responses",
		Severity: Low, OWASP: "API8:2023", CWE: 319,
		Description: "HTTPS responses carry no Strict-Transport-Security header (or max-age=0), so a browser-based client can be downgraded to HTTP. Only checked over HTTPS: browsers ignore HSTS sent over plain HTTP (RFC 6797 §8.1).",
		Remediation: "Send Strict-Transport-Security: max-age=63072000; includeSubDomains on every HTTPS response.",
		Rampart:     "Always on with server.tls: every response carries Strict-Transport-Security: max-age=63072000; includeSubDomains."},
	{ID: "TLS005", Name: "untrusted-certificate", Title: "Certificate not trusted (self-signed, expired or wrong host)",
		Severity: Info, OWASP: "API8:2023", CWE: 295,
		Description: "The server's certificate does not verify against the system roots for the target host. Clients that verify (they should) cannot connect; clients that do not are open to interception. The scan continues, pinned to the certificate first seen.",
		Remediation: "Use a certificate from a CA the API's clients trust, matching the host name, and renew it before it expires.",
		Rampart:     "server.tls.cert_file/key_file are re-read when the files change, so renewal needs no restart; `rampart cert dev` is for local use only."},

	// Security headers
	{ID: "HDR001", Name: "nosniff-missing", Title: "X-Content-Type-Options: nosniff missing",
		Severity: Low, OWASP: "API8:2023", CWE: 693,
		Description: "API responses lack X-Content-Type-Options: nosniff, so a browser may sniff a JSON or text response as HTML or script.",
		Remediation: "Send X-Content-Type-Options: nosniff on every response, errors included.",
		Rampart:     headerProfile},
	{ID: "HDR002", Name: "frame-protection-missing", Title: "No frame protection (X-Frame-Options or CSP frame-ancestors)",
		Severity: Medium, OWASP: "API8:2023", CWE: 1021,
		Description: "Responses can be framed by any site (clickjacking). Medium when an HTML response lacks it; info when only non-HTML (JSON) responses do, since those cannot be meaningfully clickjacked.",
		Remediation: "Send X-Frame-Options: DENY and Content-Security-Policy: frame-ancestors 'none'.",
		Rampart:     headerProfile},
	{ID: "HDR003", Name: "authenticated-response-cacheable", Title: "Authenticated response without Cache-Control: no-store",
		Severity: Low, OWASP: "API8:2023", CWE: 525,
		Description: "A successful response to a request carrying the scan's credential lacks Cache-Control: no-store, so browsers and intermediaries may keep private data. Only checked when --token or --api-key is given.",
		Remediation: "Send Cache-Control: no-store on responses to authenticated requests.",
		Rampart:     headerProfile},
	{ID: "HDR004", Name: "version-disclosure", Title: "Software or version disclosed in response headers",
		Severity: Low, OWASP: "API8:2023", CWE: 497,
		Description: "Server carries a version number, or X-Powered-By (or a kin such as X-AspNet-Version) names the framework: attackers match these against known vulnerabilities.",
		Remediation: "Remove X-Powered-By and version banners (Werkzeug/gunicorn/uvicorn server headers, ASP.NET version headers).",
		Rampart:     "Always on: Server, X-Powered-By, X-AspNet-Version, X-Runtime and similar headers are removed from every upstream response."},

	// Error disclosure
	{ID: "ERR001", Name: "stack-trace-disclosure", Title: "Stack trace or framework debug page in a response",
		Severity: Medium, OWASP: "API8:2023", CWE: 209,
		Description: "A response (often to malformed input: quote-injected parameters, wrong types) contains a stack trace or a framework debug page, revealing code paths, file names, library versions and sometimes secrets.",
		Remediation: "Turn off debug mode in production and answer errors with a generic body (RFC 9457 problem+json); log the details server-side.",
		Rampart:     maskFix + "   # 5xx bodies are replaced; malformed input is refused with 400 before the service"},
	{ID: "ERR002", Name: "sql-error-disclosure", Title: "Database or ORM error text in a response",
		Severity: Medium, OWASP: "API8:2023", CWE: 209,
		Description: "A response contains database driver or ORM error text (SQL syntax errors, SQLSTATE codes, psycopg2/SQLAlchemy/Hibernate/Sequelize exceptions), revealing the schema or query structure.",
		Remediation: "Catch database errors and answer with a generic error; log the details server-side.",
		Rampart:     maskFix},
	{ID: "ERR003", Name: "sql-injection-indicator", Title: "Quote in a parameter produces a SQL syntax error (possible SQL injection)",
		Severity: High, OWASP: "API8:2023", CWE: 89,
		Description: "The same request answers normally without a quote and with a SQL syntax error when a parameter contains a quote: the value is very likely concatenated into a SQL statement.",
		Remediation: "Use parameterized queries (bind parameters) everywhere; never build SQL from request values.",
		Rampart:     maskFix + "   # refuses values of the wrong type or format; it does not replace parameterized queries"},
	{ID: "ERR004", Name: "credential-in-response", Title: "Credential in a response body",
		Severity: High, OWASP: "API8:2023", CWE: 200,
		Description: "A response body contains a credential: a connection URL with a password, a private key, or a cloud access key. Evidence shows the match with the secret redacted.",
		Remediation: "Remove the secret from the response (debug output, config dumps) and rotate it: it must be considered leaked.",
		Rampart:     maskFix},

	{ID: "ERR005", Name: "injection-likely", Title: "Quote breaks the answer and a balanced quote restores it (likely injection)",
		Severity: Medium, OWASP: "API8:2023", CWE: 943,
		Description: "A parameter with one quote turned a non-5xx answer into a 5xx (even a masked one, without any error text), and the same value with two quotes answered normally again: the value is very likely spliced into a query. Medium, since no database error is shown.",
		Remediation: "Use parameterized queries (bind parameters) everywhere; never build SQL or other query text from request values.",
		Rampart:     maskFix + "   # with a pattern on the parameter, the quote is refused with 400; it does not replace parameterized queries"},

	// CORS
	{ID: "CORS001", Name: "cors-origin-reflected", Title: "Arbitrary Origin reflected in Access-Control-Allow-Origin",
		Severity: Medium, OWASP: "API8:2023", CWE: 942,
		Description: "The API echoes any Origin it is sent back in Access-Control-Allow-Origin, so every web site may read its responses from a visitor's browser. (With credentials allowed it is CORS003.)",
		Remediation: "Allow an exact list of origins (scheme, host and port); never echo the Origin header.",
		Rampart:     corsFix},
	{ID: "CORS002", Name: "cors-null-origin", Title: "Origin null allowed",
		Severity: Medium, OWASP: "API8:2023", CWE: 942,
		Description: "Access-Control-Allow-Origin: null is returned for Origin: null, which any page can send from a sandboxed iframe or a data: URL.",
		Remediation: "Never allow the null origin.",
		Rampart:     corsFix},
	{ID: "CORS003", Name: "cors-credentials-untrusted", Title: "Credentials allowed for an untrusted origin",
		Severity: High, OWASP: "API8:2023", CWE: 942,
		Description: "Access-Control-Allow-Credentials: true comes with a reflected, null or look-alike origin: any site can make authenticated requests with a visitor's cookies and read the answers. " +
			"Low when the origin is the wildcard \"*\": browsers refuse that combination, but it shows a policy that would reflect if it could.",
		Remediation: "Allow credentials only for an exact list of trusted origins.",
		Rampart:     corsFix},
	{ID: "CORS004", Name: "cors-lookalike-origin", Title: "Look-alike origin accepted (prefix or suffix match)",
		Severity: Medium, OWASP: "API8:2023", CWE: 942,
		Description: "An arbitrary origin is refused but a look-alike of a trusted one is accepted (https://app.example.com.evil.example, https://evilapp.example.com): the origin check is a prefix, suffix or unanchored regular expression match.",
		Remediation: "Compare origins exactly (scheme, host and port), never with prefix/suffix or unanchored patterns.",
		Rampart:     corsFix},

	// Authentication
	{ID: "AUTH001", Name: "secured-operation-open", Title: "Operation documented as secured answers without credentials",
		Severity: High, OWASP: "API2:2023", CWE: 306,
		Description: "The OpenAPI document requires security for the operation, but a request without any credential got a 2xx answer.",
		Remediation: "Enforce authentication on every operation the document marks secured; deny by default.",
		Rampart:     jwtFix + "\n# a route without auth: is a config error; public routes must say auth: none"},
	{ID: "AUTH002", Name: "jwt-alg-none", Title: "JWT with alg \"none\" accepted",
		Severity: High, OWASP: "API2:2023", CWE: 347,
		Description: "A protected operation (401/403 without credentials) accepted an unsigned token whose header says alg \"none\" (also tried: \"None\", \"NONE\"). Anyone can mint tokens for any subject.",
		Remediation: "Pin the accepted signature algorithms in the verifier; never accept \"none\".",
		Rampart:     jwtFix},
	{ID: "AUTH003", Name: "jwt-signature-stripped", Title: "JWT with its signature removed accepted",
		Severity: High, OWASP: "API2:2023", CWE: 347,
		Description: "A protected operation accepted a token whose signature part is empty: the service decodes tokens without verifying them.",
		Remediation: "Verify the signature of every token (with the issuer's keys) before reading its claims.",
		Rampart:     jwtFix},
	{ID: "AUTH004", Name: "jwt-expired-accepted", Title: "Expired JWT accepted",
		Severity: High, OWASP: "API2:2023", CWE: 613,
		Description: "A protected operation accepted a token whose exp is in the past. When --token is itself expired it is sent as is (proof that expiry is not checked); otherwise the token's claims are re-dated without a key, so acceptance also means the signature is not verified.",
		Remediation: "Require and check exp (and nbf) with a small leeway.",
		Rampart:     jwtFix + "   # exp is required; leeway is at most 5m"},
	{ID: "AUTH005", Name: "jwt-signature-altered", Title: "JWT with an altered signature accepted",
		Severity: High, OWASP: "API2:2023", CWE: 347,
		Description: "With a valid --token, the same token with one bit of its signature flipped was also accepted: signatures are not verified. Needs --token.",
		Remediation: "Verify the signature of every token before trusting its claims.",
		Rampart:     jwtFix},

	{ID: "AUTH006", Name: "jwt-weak-secret", Title: "JWT signed with a guessable HMAC secret",
		Severity: High, OWASP: "API2:2023", CWE: 1391,
		Description: "The HS256/HS384/HS512 signature of --token verifies with a publicly known weak secret (an offline dictionary of common values: no request is sent). Anyone can then sign tokens with any claims, for any user or role; the report describes such a token but never prints it or the secret.",
		Remediation: "Sign with a random secret of at least 256 bits from a secret store (or with asymmetric keys), rotate it now, and invalidate every token signed with the old one.",
		Rampart: "Not fixable at the gateway while the service keeps the weak key: a gateway verifying with the same key accepts the forged token too. After rotating:\n" +
			`authenticators:
  app_tokens: { type: jwt, issuer: any, audiences: [any], algorithms: [HS256], secret: "${APP_JWT_SECRET}" }`},
	{ID: "AUTH007", Name: "user-enumeration", Title: "Login or reset answers differently for unknown users",
		Severity: Medium, OWASP: "API2:2023", CWE: 204,
		Description: "A login- or reset-like operation answered a known user with a wrong password differently from an unknown user: another status, another message, or a consistent timing gap over several interleaved tries. Attackers learn which accounts exist before guessing passwords. Only with --allow-unsafe (it sends POST); the known user comes from --token's claims or user names seen in responses, and only wrong passwords are sent.",
		Remediation: "Answer every failed login the same way (status, body and time: compare against a dummy hash when the user does not exist); make reset answer \"if the account exists, a mail was sent\".",
		Rampart: `lockout: { max_failures: 10, window: 1m, duration: 5m, key: client_ip }   # slows guessing; the answers must still be made uniform in the service
rate_limits:
  login: { key: client_ip, limits: ["5/m burst 5"] }`},

	// Authorization
	{ID: "AUTHZ001", Name: "function-level-authorization", Title: "Privileged operation reachable with a low-privilege credential",
		Severity: High, OWASP: "API5:2023", CWE: 285,
		Description: "With --openapi and a credential, an admin-looking operation (admin, internal, manage... in its path, id or tags) or one requiring scopes the token does not carry answered 2xx. Give the scan a low-privilege credential: an admin credential makes this rule meaningless.",
		Remediation: "Check the caller's role or scopes in every operation, denying by default.",
		Rampart: `routes:
  - { name: users-admin, path: /api/admin/users, methods: [GET], upstream: inventory,
      auth: [corp_sso], require: { scopes: ["admin:users"], roles: [admin] } }`},

	// Object-level authorization
	{ID: "BOLA001", Name: "object-read-by-other-user", Title: "Another user's object readable (BOLA)",
		Severity: High, OWASP: "API1:2023", CWE: 639,
		Description: "With --token and --token-b (two ordinary users): an object user A can read, that names A and that is refused without credentials, was returned identically to user B. Objects come from the document's examples and from A's own responses.",
		Remediation: "Check in every operation that the object belongs to the caller (or is shared with them), from the token's subject, never from the request.",
		Rampart: `routes:
  - { name: book, path: /books/v1/{title}, methods: [GET], upstream: books, auth: [app_tokens],
      response_owner: { field: /owner, claim: sub } }   # another user's object becomes 404`},
	{ID: "BOLA002", Name: "object-write-by-other-user", Title: "Another user's object writable (BOLA)",
		Severity: High, OWASP: "API1:2023", CWE: 639,
		Description: "With --token, --token-b and --allow-unsafe: user B's PUT/PATCH to an object that names user A (in its path) answered 2xx, where the same request without credentials was refused. High when reading the object back with A's credential shows B's change; medium when the change cannot be read back (a password, a secret).",
		Remediation: "Authorize every write against the object's owner, from the token's subject.",
		Rampart: `routes:
  - name: password
    path: /users/v1/{username}/password
    methods: [PUT]
    upstream: users
    auth: [app_tokens]
    require: { match: [{ path: username, claim: sub }] }   # Alice may change only Alice's`},

	// Resource consumption
	{ID: "RATE001", Name: "no-rate-limit", Title: "No rate limiting observed",
		Severity: Medium, OWASP: "API4:2023", CWE: 770,
		Description: "A bounded burst (30 requests by default, at the scan's rate cap) to a cheap read operation all succeeded, with no 429 and no RateLimit, RateLimit-Policy, X-RateLimit-* or Retry-After header anywhere in the scan. A limit looser than the scan's rate would not be seen; a limit that advertises itself in headers never triggers this rule.",
		Remediation: "Rate limit per client and per principal, answer 429 with Retry-After, and advertise the policy in RateLimit headers.",
		Rampart: `rate_limits:
  per_client: { key: client_ip, limits: ["10/s burst 20", "200/day"] }
routes:
  - { name: items, path: /api/items, methods: [GET], upstream: inventory, auth: none, rate_limit: [per_client] }`},

	{ID: "DOS001", Name: "input-dependent-slowness", Title: "Response time grows sharply with input length (ReDoS or resource hint)",
		Severity: Medium, OWASP: "API4:2023", CWE: 1333,
		Description: "A string field answered a short value quickly but a longer crafted value (a run of characters followed by one that does not match, the classic regular-expression backtracking input) at least ten times and 500ms slower, twice. Off by default: only with --allow-slow, with a few bounded tries that stop at the first slow answer.",
		Remediation: "Bound input lengths in the schema, use linear-time regular expressions (RE2-style) or validate without backtracking, and set request timeouts.",
		Rampart:     `openapi: { users: { spec: ./openapi.json, validate_requests: true } }   # maxLength and pattern enforced by a linear-time matcher before the service`},

	// Data exposure
	{ID: "EXPO001", Name: "undeclared-response-property", Title: "Response properties not declared in the response schema",
		Severity: Medium, OWASP: "API3:2023", CWE: 213,
		Description: "A JSON response contains properties its OpenAPI response schema does not declare (reported by name only, never by value). High when a name looks sensitive (password, secret, token, key, hash, ssn...). Needs --openapi.",
		Remediation: "Serialize responses from an explicit allowlist of fields (response models/DTOs), never whole database objects.",
		Rampart:     `openapi: { inventory: { spec: ./openapi.json, filter_responses: strip } }   # undeclared properties removed`},
	{ID: "EXPO002", Name: "secret-in-response", Title: "Password, hash or secret value in a response",
		Severity: High, OWASP: "API3:2023", CWE: 522,
		Description: "A JSON response, declared or not, carries a non-empty value under a password/hash/salt/secret-key/api-key name, a password hash anywhere (bcrypt, argon2, scrypt, pbkdf2, crypt), or a token field outside a login/token operation. Values are redacted in the report.",
		Remediation: "Never serialize credentials or their hashes: build responses from an allowlist of fields, and remove debug routes that dump records.",
		Rampart: `routes:
  - { name: debug, path: /users/v1/_debug, methods: [GET], deny: true }   # never reachable
openapi: { users: { spec: ./openapi.json, filter_responses: strip } }   # undeclared properties removed`},
	{ID: "MASS001", Name: "mass-assignment", Title: "Write operation accepts undeclared properties",
		Severity: High, OWASP: "API3:2023", CWE: 915,
		Description: "A POST/PUT/PATCH with a body carrying properties the request schema does not declare (is_admin, role, a marker) got a 2xx. High when the response echoes an injected property (it was bound); low when it was accepted silently. Only with --allow-unsafe and --openapi.",
		Remediation: "Bind request bodies to explicit input models and reject unknown properties (additionalProperties: false).",
		Rampart:     `openapi: { inventory: { spec: ./openapi.json, validate_requests: true } }   # unknown fields rejected with 400`},

	{ID: "MASS002", Name: "mass-assignment-effect", Title: "Privileged or undeclared property set through a write (read back)",
		Severity: High, OWASP: "API3:2023", CWE: 915,
		Description: "A POST/PUT/PATCH carrying extra properties (names from the response schemas and common privilege fields: admin, is_admin, role, roles, permissions, balance, owner, verified) was read back with the property holding the sent value, where a control write without it reads back otherwise. Judged by effect, not by echo. Only with --allow-unsafe and --openapi.",
		Remediation: "Bind request bodies to explicit input models; set privileged fields only in code paths that check the caller may.",
		Rampart:     `openapi: { users: { spec: ./openapi.json, validate_requests: true } }   # unknown fields rejected with 400 (the request schema must be closed)`},

	// Path normalization
	{ID: "PATH001", Name: "path-normalization-bypass", Title: "Protected path reachable through a path-normalization trick",
		Severity: High, OWASP: "API2:2023", CWE: 288,
		Description: "A path that answers 401/403 directly answered 2xx when spelled differently: %2e%2e segments, '//', ';' path parameters, an encoded slash, or another letter case. The access check and the router read the path differently.",
		Remediation: "Normalize the path once, before the access decision, and route on exactly that path; refuse ambiguous spellings.",
		Rampart:     "Always on: paths are normalized once before routing; encoded slashes, encoded dot-segments and ';' are refused with 400; routes match case-sensitively and only declared routes are forwarded."},

	// Methods
	{ID: "METH001", Name: "trace-enabled", Title: "HTTP TRACE enabled",
		Severity: Low, OWASP: "API8:2023", CWE: 200,
		Description: "TRACE echoes the request back, including headers a proxy or the client added (cookies, Authorization). Confirmed (low) only with --allow-unsafe, since TRACE is outside GET/HEAD/OPTIONS; otherwise an OPTIONS Allow header listing TRACE is reported as info.",
		Remediation: "Disable TRACE (and TRACK) on the server and every proxy in front of it.",
		Rampart:     "Always on: routes list their methods and TRACE is never routed unless listed; other methods get 405."},
	{ID: "METH002", Name: "method-override", Title: "Method-override header honoured",
		Severity: Medium, OWASP: "API5:2023", CWE: 650,
		Description: "The service changes the request method when told to by X-HTTP-Method-Override, X-HTTP-Method or X-Method-Override, so a method-based access decision made in front of it (a gateway, a WAF) is bypassed. Probed safely with GET→OPTIONS; with --allow-unsafe also POST→GET.",
		Remediation: "Do not honour method-override headers (or only for POST from trusted internal clients).",
		Rampart:     "Always on: X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override are stripped before forwarding."},

	// Inventory
	{ID: "INV001", Name: "well-known-path-exposed", Title: "Well-known undocumented path answers",
		Severity: Medium, OWASP: "API9:2023", CWE: 538,
		Description: "A path from a bounded list of well-known leftovers (/.env, /.git/config, /actuator/env, /debug/pprof/, /server-status, /admin, API docs...) answered 2xx with content that matches what the path is known to hold, and the OpenAPI document (if any) does not declare it. Severity per path: high for secrets and source (/.env, /.git), medium for debug and admin surfaces, low for metrics, info for API documentation.",
		Remediation: "Remove the file or endpoint from the deployment, or put it behind authentication on an internal listener.",
		Rampart:     "Always on: only declared routes are forwarded; everything else is 404 (openapi.<name>.reject_undocumented: true does the same per operation)."},
}

var ruleByID = func() map[string]*Rule {
	m := make(map[string]*Rule, len(Rules))
	for _, r := range Rules {
		if m[r.ID] != nil {
			panic("scan: duplicate rule id " + r.ID)
		}
		m[r.ID] = r
	}
	return m
}()

// RuleByID returns the rule with that ID, or nil.
func RuleByID(id string) *Rule { return ruleByID[id] }
