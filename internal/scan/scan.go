// Package scan is `rampart scan`: an API security scanner that probes an HTTP
// API — one behind Rampart, or one that is not — optionally guided by its
// OpenAPI document and a credential, and reports the weaknesses an attacker
// finds first. Each finding names its rule (stable ID), severity, OWASP API
// Security Top 10 (2023) category and CWE, carries evidence (the request
// sent, the response, the part that proves it, secrets redacted) and says how
// to fix it, including the Rampart config that prevents it.
//
// It shares nothing with the request path: it is a client of the API like any
// other, so it can scan Rampart, a bare service, or a competitor.
//
// # What it is not
//
// It is not a full DAST (OWASP ZAP, Burp): it does not crawl, fuzz bodies
// broadly, test business flows, SSRF, or injection beyond quotes in each
// parameter; object-level authorization is tested only with two users'
// tokens (Options.TokenB). It is a fast, bounded, low-false-positive check,
// fit for a CI gate.
//
// # Manners
//
// Only GET, HEAD and OPTIONS are sent unless Options.AllowUnsafe is set;
// DELETE is never sent, nor is an operation that looks destructive (safety.go)
// unless Options.Include names it; the credential is watched and
// authenticated checks stop if it dies mid-scan. Every request counts against a budget
// (MaxRequests, default 300) and waits for a token bucket (Rate, default 10
// per second, no bursts above it). Redirects are never followed, except a
// redirect of the target URL itself to the same host (http → https). The
// report lists what was and was not tested, and why.
//
// # Use
//
//	rep, err := scan.Run(ctx, scan.Options{Target: "https://api.example.com", OpenAPI: "openapi.yaml"})
//	if err != nil { /* target unreachable, bad options: exit 2 */ }
//	scan.WriteText(os.Stdout, rep, false)
//	if rep.Fails(scan.Medium) { /* exit 1 */ }
//
// Severities are the rules' defaults except where a rule says otherwise
// (plain HTTP to loopback is info; frame protection matters for HTML; CORS
// wildcard with credentials is low; undeclared properties with sensitive
// names are high; mass assignment without reflection is low; inventory
// severity depends on the path).
package scan

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Options configure a scan. Zero values take the documented defaults.
type Options struct {
	Target string // http(s) URL of the API (its base path, if any); required
	// OpenAPI is a file path or an http(s) URL of an OpenAPI 3.0/3.1
	// document (JSON or YAML). "" = none; a document found at a well-known
	// path (/openapi.json...) is then used.
	OpenAPI      string
	Token        string  // a valid bearer token (JWT or opaque), ideally low-privilege
	APIKey       string  // a valid API key
	APIKeyHeader string  // default "X-API-Key" (the document's apiKey scheme wins when it names one)
	MaxRequests  int     // budget, HTTP requests plus TLS handshakes; default 300
	Rate         float64 // cap in requests per second; default 10 (the CLI allows at most MaxRate)
	Burst        int     // size of the rate-limit probe; default 30 (shrunk to fit the budget)
	AllowUnsafe  bool    // allow POST/PUT/PATCH/TRACE probes (never DELETE)
	// TokenB is a second ordinary user's bearer token: objects reachable
	// with Token are requested with it (BOLA001, BOLA002).
	TokenB string
	// AllowSlow allows the resource-consumption probes (DOS001): inputs
	// that may make a vulnerable service spend seconds per request.
	AllowSlow bool
	// Include names operations that look destructive but may be sent
	// anyway; Exclude names operations never to send. Syntax: ParseOpPattern.
	Include, Exclude []string
	Timeout          time.Duration // per request; default 10s
	Version          string        // scanner version for the User-Agent and reports; default "dev"
	// Now stamps the report and dates forged tokens; default time.Now.
	// Tests fix it for golden output. The rate cap always uses the real clock.
	Now      func() time.Time
	RootCAs  *x509.CertPool // trusted roots for TLS005; nil = the system's
	Progress func(Progress) // called after each request (from the scanning goroutine)
}

func (o *Options) defaults() error {
	if o.APIKeyHeader == "" {
		o.APIKeyHeader = "X-API-Key"
	}
	if o.MaxRequests == 0 {
		o.MaxRequests = 300
	}
	if o.Rate == 0 {
		o.Rate = 10
	}
	if o.Burst == 0 {
		o.Burst = 30
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.MaxRequests < 1:
		return errors.New("max-requests must be at least 1")
	case o.Rate < 0:
		return errors.New("rate must be positive")
	case o.Burst < 1:
		return errors.New("burst must be at least 1")
	case o.Timeout < 0:
		return errors.New("timeout must be positive")
	case strings.ContainsAny(o.Token+o.TokenB+o.APIKey, "\r\n"):
		return errors.New("token and API key must be one line")
	}
	if !validHeaderName(o.APIKeyHeader) {
		return fmt.Errorf("api-key-header %q is not a valid header name", o.APIKeyHeader)
	}
	return nil
}

func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// ParseTarget checks a target URL: http or https, a host, no userinfo or fragment.
func ParseTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("target %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("target %q: want an http:// or https:// URL with a host", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("target %q: credentials in the URL are not accepted; use --token or --api-key", redactUserinfo(u))
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("target %q: remove the #fragment", raw)
	}
	return u, nil
}

func redactUserinfo(u *url.URL) string {
	c := *u
	c.User = url.User(Redacted)
	return c.String()
}

// scanner is one run.
type scanner struct {
	opts    Options
	start   time.Time
	target  *url.URL // after same-host redirects
	prefix  string   // path prefix of the API ("" or "/api")
	c       *client
	red     *redactor
	api     *API
	apiInfo *APIInfo
	token   *jwtParts // --token parsed as a JWT; nil when absent or opaque
	include []OpPattern
	exclude []OpPattern

	canary       *endpoint // the known-good authenticated read (nil without one)
	credDead     bool      // the credential stopped working: no more authenticated requests
	credRefusals int       // 401/403 answers to requests carrying the credential
	massN        int       // writes sent by MASS002 (makes their values unique)
	jsonSeen     bool      // a JSON response arrived (EXPO002 had something to judge)

	rep      *Report
	seen     map[string]bool
	cov      map[string]*Coverage
	eps      []*endpoint
	unsafe   []*Operation // POST/PUT/PATCH operations (with --allow-unsafe)
	catchAll *exchange    // the answer to a path that cannot exist

	base         *exchange // the target URL's answer (after same-host redirects)
	firstHTTP    *exchange // the very first answer, before any redirect
	upgradedFrom *exchange // the http:// answer that redirected to https://, if any

	hdr         headerState
	rateSignal  *exchange // first 429 or rate-limit header seen
	protected   []string  // paths that answered 401/403 without credentials
	versionSeen bool
	budgetHit   bool
	firstErr    error
}

// endpoint is an operation with concrete values, and its baseline answers.
type endpoint struct {
	method   string
	template string // as documented, or the target path
	target   string // raw request target
	op       *Operation
	unauth   *exchange // without credentials
	auth     *exchange // with the user's credential (nil without one)
}

// best is the authenticated answer when there is one, else the unauthenticated one.
func (e *endpoint) best() *exchange {
	if e.auth != nil {
		return e.auth
	}
	return e.unauth
}

// Run scans opts.Target. It returns an error (and no report) when the
// options are invalid, the OpenAPI document cannot be read, or the target
// cannot be reached at all; problems during the scan become notes.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	target, err := ParseTarget(opts.Target)
	if err != nil {
		return nil, err
	}
	s := &scanner{opts: opts, start: opts.Now(), target: target, seen: map[string]bool{}, cov: map[string]*Coverage{}}
	if s.include, err = parsePatterns(opts.Include); err != nil {
		return nil, fmt.Errorf("--include: %w", err)
	}
	if s.exclude, err = parsePatterns(opts.Exclude); err != nil {
		return nil, fmt.Errorf("--exclude: %w", err)
	}
	secrets := []string{opts.Token, opts.TokenB, opts.APIKey}
	for _, t := range []string{opts.Token, opts.TokenB} {
		if j, err := parseJWT(t); err == nil {
			secrets = append(secrets, j.signature)
		}
	}
	s.red = newRedactor(secrets...)
	if opts.Token != "" {
		if j, err := parseJWT(opts.Token); err == nil {
			s.token = j
		}
	}
	s.rep = &Report{Tool: Tool{Name: "rampart scan", Version: opts.Version}, StartedAt: s.start,
		Requests: RequestStats{Budget: opts.MaxRequests, Rate: opts.Rate}}
	if opts.OpenAPI != "" {
		api, err := loadSpec(ctx, opts.OpenAPI, opts.Timeout)
		if err != nil {
			return nil, err
		}
		s.useAPI(api, opts.OpenAPI)
	}
	s.c = newClient(&s.opts, &url.URL{Scheme: target.Scheme, Host: target.Host})
	s.c.observe = s.observe
	// Keep the burst's share of the budget for the end; a budget too small
	// to share leaves the burst whatever is left.
	burst := min(opts.Burst, opts.MaxRequests/4)
	if burst >= 2 {
		s.c.reserve(burst)
	} else {
		burst = opts.Burst
	}

	base, err := s.discover(ctx)
	if err != nil {
		return nil, err
	}
	s.base = base
	s.rep.Target = s.red.url(s.target.String())
	phases := []struct {
		name string
		run  func(context.Context)
	}{
		{"transport", func(ctx context.Context) { s.checkTransport(ctx, base) }},
		{"inventory", s.checkInventory},
		{"operations", s.baselines},
		{"headers", func(context.Context) { s.reportHeaders() }},
		{"weak-jwt-secret", func(context.Context) { s.checkWeakSecret() }},
		{"authentication", s.checkAuth},
		{"errors", s.checkErrors},
		{"cors", s.checkCORS},
		{"tokens", s.checkTokens},
		{"authorization", func(context.Context) { s.checkFunctionAuthz() }},
		{"exposure", func(context.Context) { s.checkExposure() }},
		{"paths", s.checkPaths},
		{"methods", s.checkMethods},
		{"mass-assignment", s.checkMassAssignment},
		{"mass-assignment-effect", s.checkMassEffect},
		{"object-authorization", s.checkBOLA},
		{"user-enumeration", s.checkEnumeration},
		{"resource-consumption", s.checkSlow},
	}
	for _, p := range phases {
		if ctx.Err() != nil {
			break
		}
		s.c.setPhase(p.name)
		refusals := s.credRefusals
		p.run(ctx)
		if p.name == "operations" {
			s.pickCanary()
		} else if s.credRefusals > refusals {
			// Something refused the credential: is it still alive?
			s.checkCredential(ctx, "the "+p.name+" checks")
		}
	}
	s.c.release()
	s.checkCredential(ctx, "the scan") // the "after" probe
	if ctx.Err() == nil {
		s.c.setPhase("rate-limit")
		s.checkRateLimit(ctx, burst)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.finish()
	return s.rep, nil
}

// loadSpec reads an OpenAPI document from a file or an http(s) URL.
func loadSpec(ctx context.Context, src string, timeout time.Duration) (*API, error) {
	var data []byte
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		u, err := url.Parse(src)
		if err != nil {
			return nil, fmt.Errorf("openapi %s: %v", src, err)
		}
		hc := &http.Client{Timeout: timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != u.Host || len(via) > 3 {
				return http.ErrUseLastResponse
			}
			return nil
		}}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, fmt.Errorf("openapi %s: %v", src, err)
		}
		req.Header.Set("Accept", "application/json, application/yaml;q=0.9, */*;q=0.5")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("openapi: %v", unwrapURLError(err))
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("openapi %s: status %d", src, resp.StatusCode)
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, MaxSpecSize+1))
		if err != nil {
			return nil, fmt.Errorf("openapi %s: %v", src, err)
		}
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("openapi: %v", err)
		}
		defer f.Close()
		data, err = io.ReadAll(io.LimitReader(f, MaxSpecSize+1))
		if err != nil {
			return nil, fmt.Errorf("openapi: %v", err)
		}
	}
	api, err := ParseOpenAPI(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return api, nil
}

func (s *scanner) useAPI(api *API, source string) {
	s.api = api
	s.apiInfo = &APIInfo{Source: source, Version: api.Version, Operations: len(api.Operations)}
	s.rep.OpenAPI = s.apiInfo
}

// send is client.do with the scan's bookkeeping: budget exhaustion and the
// first transport error become notes once.
func (s *scanner) send(ctx context.Context, r *request) *exchange {
	if r.creds && s.credDead {
		return nil
	}
	ex, err := s.c.do(ctx, r)
	if err != nil {
		switch {
		case errors.Is(err, errBudget):
			if !s.budgetHit {
				s.budgetHit = true
				s.note("request budget (--max-requests) exhausted: later checks were skipped or cut short")
			}
		case ctx.Err() != nil:
		default:
			if s.firstErr == nil {
				s.firstErr = err
			}
		}
		return nil
	}
	return ex
}

// out reports whether no more requests can be sent.
func (s *scanner) out(ctx context.Context) bool {
	return ctx.Err() != nil || s.c.remaining() <= 0
}

// discover fetches the target URL, following redirects to the same host
// (http → https, / → /api/), and sets the origin and API prefix.
func (s *scanner) discover(ctx context.Context) (*exchange, error) {
	first := true
	for hop := 0; ; hop++ {
		target := s.target.EscapedPath()
		if target == "" {
			target = "/"
		}
		if s.target.RawQuery != "" {
			target += "?" + s.target.RawQuery
		}
		ex, err := s.c.do(ctx, &request{method: http.MethodGet, target: target, kind: kindBaseline})
		if err != nil {
			if errors.Is(err, errBudget) {
				return nil, fmt.Errorf("cannot reach %s: the request budget is too small", s.red.url(s.target.String()))
			}
			return nil, fmt.Errorf("cannot reach %s: %w", s.red.url(s.target.String()), err)
		}
		if first {
			s.firstHTTP = ex
			first = false
		}
		loc := ex.header.Get("Location")
		if ex.status < 300 || ex.status > 399 || loc == "" || hop >= 3 {
			s.setPrefix()
			return ex, nil
		}
		next, err := s.target.Parse(loc)
		if err != nil || (next.Scheme != "http" && next.Scheme != "https") {
			s.setPrefix()
			return ex, nil
		}
		// Same host means same host and port; the one exception is an
		// upgrade from http to https on the same host name.
		upgrade := s.target.Scheme == "http" && next.Scheme == "https"
		if !strings.EqualFold(next.Hostname(), s.target.Hostname()) || !upgrade && !strings.EqualFold(next.Host, s.target.Host) {
			s.note(fmt.Sprintf("the target redirects to another host (%s): not followed", s.red.url(next.Redacted())))
			s.setPrefix()
			return ex, nil
		}
		if next.Scheme == "http" && s.target.Scheme == "https" {
			s.note("the target redirects from https to http: not followed")
			s.setPrefix()
			return ex, nil
		}
		if next.Scheme != s.target.Scheme {
			s.upgradedFrom = ex
			s.note(fmt.Sprintf("%s redirects to %s: scanning that", s.red.url(s.target.String()), s.red.url(next.String())))
		}
		next.Fragment = ""
		s.target = next
		s.c.origin = &url.URL{Scheme: next.Scheme, Host: next.Host}
	}
}

func (s *scanner) setPrefix() {
	p := strings.TrimRight(s.target.EscapedPath(), "/")
	if p == "" && s.api != nil {
		p = s.api.ServerPath
	}
	s.prefix = p
}

// --- findings and coverage ---

// hit is a finding before evidence is rendered.
type hit struct {
	rule     string
	severity Severity
	override bool // use severity instead of the rule's default
	ex       *exchange
	baseline *exchange
	message  string
	proof    string
	bodyAt   string // show the response body around this text ("" = no body)
	key      string // dedup key; "" = rule, method and path
}

func (s *scanner) found(h hit) {
	r := RuleByID(h.rule)
	if r == nil {
		panic("scan: unknown rule " + h.rule)
	}
	key := h.key
	if key == "" && h.ex != nil {
		path, _, _ := strings.Cut(h.ex.req.target, "?")
		key = h.ex.req.method + " " + path
	}
	key = h.rule + " " + key
	if s.seen[key] {
		return
	}
	s.seen[key] = true
	sev := r.Severity
	if h.override {
		sev = h.severity
	}
	f := Finding{Rule: r.ID, Title: r.Title, Severity: sev, OWASP: r.OWASPTitle(), CWE: r.CWEID(),
		Message: s.red.text(h.message), Remediation: r.Remediation, Rampart: r.Rampart}
	if h.ex != nil {
		f.Method = h.ex.req.method
		f.Location = s.red.url(h.ex.url)
		req, resp := s.evidence(h.ex, h.bodyAt)
		f.Evidence = Evidence{Request: req, Response: resp}
	}
	f.Evidence.Proof = s.red.text(h.proof)
	if h.baseline != nil {
		req, resp := s.evidence(h.baseline, "")
		f.Evidence.Baseline = &Exchange{Request: req, Response: resp}
	}
	s.rep.Findings = append(s.rep.Findings, f)
}

// foundTLS records a finding about a handshake (no HTTP exchange).
func (s *scanner) foundTLS(rule string, clientHello, message, proof string) {
	r := RuleByID(rule)
	key := rule + " tls"
	if s.seen[key] {
		return
	}
	s.seen[key] = true
	loc := "https://" + s.target.Host + "/"
	s.rep.Findings = append(s.rep.Findings, Finding{Rule: r.ID, Title: r.Title, Severity: r.Severity, OWASP: r.OWASPTitle(),
		CWE: r.CWEID(), Message: message, Method: "TLS", Location: loc, Remediation: r.Remediation, Rampart: r.Rampart,
		Evidence: Evidence{Request: RequestEvidence{Method: "TLS", URL: loc, Body: clientHello}, Proof: proof}})
}

const (
	excerptBefore = 160
	excerptAfter  = 340
	maxReqBody    = 2048
)

func (s *scanner) evidence(ex *exchange, bodyAt string) (RequestEvidence, *ResponseEvidence) {
	req := RequestEvidence{Method: ex.req.method, URL: s.red.url(ex.url)}
	if len(ex.req.header) > 0 {
		req.Headers = map[string]string{}
		for k, vs := range ex.req.header {
			v := strings.Join(vs, ", ")
			if ex.req.credNote != "" && isSensitiveHeader(k, s.opts.APIKeyHeader) {
				scheme := ""
				if sch, _, ok := strings.Cut(v, " "); ok && strings.EqualFold(k, "Authorization") {
					scheme = sch + " "
				}
				req.Headers[k] = scheme + Redacted + " (" + ex.req.credNote + ")"
				continue
			}
			req.Headers[k] = s.red.header(k, v, s.opts.APIKeyHeader)
		}
	}
	if ex.req.body != nil {
		req.Body = s.red.text(clip(string(ex.req.body), maxReqBody))
	}
	resp := &ResponseEvidence{Status: ex.status}
	if len(ex.header) > 0 {
		resp.Headers = map[string]string{}
		for k, vs := range ex.header {
			if k == "Date" {
				continue
			}
			resp.Headers[k] = s.red.header(k, strings.Join(vs, ", "), s.opts.APIKeyHeader)
		}
	}
	if bodyAt != "" {
		resp.Body = s.red.text(excerpt(string(ex.body), bodyAt))
	}
	return req, resp
}

// excerpt is the text around the first occurrence of at ("*" = the start).
func excerpt(body, at string) string {
	i := 0
	if at != "*" {
		i = strings.Index(body, at)
		if i < 0 {
			i = 0
		}
	}
	from, to := max(0, i-excerptBefore), min(len(body), i+len(at)+excerptAfter)
	if at == "*" {
		from, to = 0, min(len(body), excerptBefore+excerptAfter)
	}
	out := strings.ToValidUTF8(body[from:to], "\uFFFD")
	if from > 0 {
		out = "…" + out
	}
	if to < len(body) {
		out += "…"
	}
	return out
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func (s *scanner) coverage(rule string) *Coverage {
	c := s.cov[rule]
	if c == nil {
		c = &Coverage{Rule: rule}
		s.cov[rule] = c
	}
	return c
}

// tested marks rules as exercised.
func (s *scanner) tested(rules ...string) {
	for _, r := range rules {
		if c := s.coverage(r); c.Status != Partial {
			c.Status = Tested
		}
	}
}

// partial marks a rule as exercised with a limitation.
func (s *scanner) partial(rule, note string) {
	c := s.coverage(rule)
	c.Status = Partial
	s.addNote(c, note)
}

// skipped marks a rule as not exercised, with why (unless it was exercised elsewhere).
func (s *scanner) skipped(rule, note string) {
	c := s.coverage(rule)
	if c.Status == "" {
		c.Status = Skipped
	}
	if c.Status == Skipped {
		s.addNote(c, note)
	}
}

func (s *scanner) addNote(c *Coverage, note string) {
	for _, n := range c.Notes {
		if n == note {
			return
		}
	}
	c.Notes = append(c.Notes, note)
}

func (s *scanner) note(text string) {
	for _, n := range s.rep.Notes {
		if n == text {
			return
		}
	}
	s.rep.Notes = append(s.rep.Notes, text)
}

func (s *scanner) finish() {
	sent, errs := s.c.stats()
	s.rep.Requests.Sent, s.rep.Requests.Errors = sent, errs
	if s.firstErr != nil {
		s.note(fmt.Sprintf("%d request(s) got no response; the first: %s", errs, s.red.text(s.firstErr.Error())))
	}
	if s.jsonSeen {
		s.tested("EXPO002")
	} else {
		s.skipped("EXPO002", "no JSON response arrived")
	}
	if s.api == nil {
		s.note("no OpenAPI document: authentication, authorization and exposure rules were limited to probing the target URL")
	}
	for _, r := range Rules {
		c := s.cov[r.ID]
		if c == nil || c.Status == "" {
			why := "not reached"
			if s.budgetHit {
				why = "not reached: request budget exhausted"
			}
			c = &Coverage{Rule: r.ID, Status: Skipped, Notes: []string{why}}
		}
		s.rep.Coverage = append(s.rep.Coverage, *c)
	}
	s.rep.FinishedAt = s.opts.Now()
	s.rep.finish()
}

// isLoopback reports a loopback host by name or address (no DNS lookup:
// the scan must not trust a resolver to downgrade a finding).
func isLoopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}
