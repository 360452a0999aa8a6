// Package waf inspects requests with the OWASP Core Rule Set (CRS v4, the
// copy embedded by github.com/corazawaf/coraza-coreruleset) on the Coraza
// engine: SQL injection, XSS, command injection, path traversal and the
// other attacks a well-typed string passes OpenAPI validation with.
//
// A Policy is compiled once per config load (compiling the CRS takes a few
// hundred milliseconds) and is safe for concurrent requests: each request is
// one Coraza transaction. The CRS runs in anomaly-scoring mode: each
// matching rule adds to the request's score (critical 5, error 4, warning
// 3, notice 2) and rule 949110 refuses the request when the score reaches
// inbound_threshold. In detect mode the engine runs DetectionOnly: the same
// rules match and are reported, nothing is refused.
//
// Tuned for JSON APIs: request bodies are parsed by Coraza's JSON body
// processor (fields become ARGS:json.a.b), responses are not looked at
// (the response phases never run), Coraza's own audit and debug logs are off (the
// gateway writes its own audit event), and the request body limit is the
// gateway's max_body_bytes.
package waf

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/rampart-gw/rampart/internal/config/conf"
)

// Policy is a compiled waf: policy.
type Policy struct {
	cfg  Config
	waf  coraza.WAF
	ids  map[int][]string // every loaded rule id and its tags, for exclusions
	tags map[string]bool  // every loaded tag
}

// Config is the policy's configuration (with defaults applied).
func (p *Policy) Config() Config { return p.cfg }

// ParanoiaLevel is the CRS paranoia level of a loaded rule (its
// paranoia-level/N tag), 0 for a rule without one, -1 for an unknown id.
func (p *Policy) ParanoiaLevel(id int) int {
	tags, ok := p.ids[id]
	if !ok {
		return -1
	}
	for _, t := range tags {
		if n, ok := strings.CutPrefix(t, "paranoia-level/"); ok {
			if pl, err := strconv.Atoi(n); err == nil {
				return pl
			}
		}
	}
	return 0
}

// Detect reports whether the policy only reports (mode: detect).
func (p *Policy) Detect() bool { return p.cfg.Mode == "detect" }

// blockingRule is the CRS rule that refuses a request whose inbound anomaly
// score reached the threshold.
const blockingRule = 949110

// New compiles c. Its problems are *conf.FieldError at the key they are
// about: exclusions naming rules or tags the rule set does not have, and
// directives of rules_file that Coraza refuses (with the file's line).
func New(c Config) (*Policy, error) {
	if c.ParanoiaLevel == 0 {
		c.ParanoiaLevel = 1
	}
	if c.InboundThreshold == 0 {
		c.InboundThreshold = 5
	}
	if c.Mode == "" {
		c.Mode = "block"
	}
	if c.OutboundThreshold == 0 {
		c.OutboundThreshold = 4
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 512 << 10
	}
	var extra string
	if c.RulesFile != "" {
		path := c.RulesFile
		if !filepath.IsAbs(path) && c.BaseDir != "" {
			path = filepath.Join(c.BaseDir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, conf.Errorf("rules_file", "cannot be read: %v", errors.Unwrap(err))
		}
		extra = string(b)
	}
	p := &Policy{cfg: c, ids: map[int][]string{}, tags: map[string]bool{}}
	observe := func(r types.RuleMetadata) {
		p.ids[r.ID()] = r.Tags()
		for _, t := range r.Tags() {
			p.tags[t] = true
		}
	}
	// The CRS and the extra rules first, to check exclusions against them.
	base := experimental.WAFConfigWithRuleObserver(coraza.NewWAFConfig().WithRootFS(coreruleset.FS), observe).
		WithDirectives(p.setup()).WithDirectives(crsRules)
	if extra != "" {
		base = base.WithDirectives(extra)
	}
	if _, err := coraza.NewWAF(base); err != nil {
		if extra != "" {
			return nil, rulesFileError(c.RulesFile, extra, err)
		}
		return nil, fmt.Errorf("waf %q: the rule set does not compile: %w", c.Name, err)
	}
	excl, errs := p.exclusions()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	full := coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(p.setup()).WithDirectives(crsRules)
	if extra != "" {
		full = full.WithDirectives(extra)
	}
	if excl != "" {
		full = full.WithDirectives(excl)
	}
	w, err := coraza.NewWAF(full)
	if err != nil {
		return nil, fmt.Errorf("waf %q: exclusions do not compile: %w", c.Name, err)
	}
	p.waf = w
	return p, nil
}

// crsRules loads the CRS in its own order (REQUEST-901 … RESPONSE-980).
const crsRules = "Include @owasp_crs/*.conf\n"

// setup is the engine's settings and the CRS's crs-setup, for APIs.
func (p *Policy) setup() string {
	c := p.cfg
	engine := "On"
	if p.Detect() {
		engine = "DetectionOnly"
	}
	limit := c.MaxBodyBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SecRuleEngine %s\n", engine)
	b.WriteString("SecRequestBodyAccess On\n")
	// The gateway has already refused larger bodies (413); the in-memory
	// limit keeps Coraza from spilling bodies to its own temp files.
	fmt.Fprintf(&b, "SecRequestBodyLimit %d\nSecRequestBodyInMemoryLimit %d\nSecRequestBodyLimitAction Reject\n", limit, limit)
	if c.InspectResponses {
		// The gateway holds back at most MaxResponseBytes of a body and
		// inspects that much (the rest streams uninspected). Rule 10004
		// picks the bodies worth reading: textual and not compressed.
		fmt.Fprintf(&b, "SecResponseBodyAccess On\nSecResponseBodyLimit %d\nSecResponseBodyLimitAction ProcessPartial\n", c.MaxResponseBytes)
		b.WriteString(`SecRule RESPONSE_HEADERS:Content-Type "@rx (?i)^(?:text/|application/(?:[a-z0-9.-]+\+)?(?:json|xml)\b)" "id:10004,phase:3,t:none,pass,nolog,chain"` + "\n")
		b.WriteString(`SecRule &RESPONSE_HEADERS:Content-Encoding "@eq 0" "t:none,ctl:forceResponseBodyVariable=On"` + "\n")
	} else {
		// Responses are not inspected: the response phases never run.
		b.WriteString("SecResponseBodyAccess Off\n")
	}
	b.WriteString("SecAuditEngine Off\nSecDebugLogLevel 0\nSecArgumentSeparator &\nSecCookieFormat 0\n")
	// JSON (and +json) bodies through the JSON body processor; XML
	// through the XML one. URL-encoded and multipart are chosen by Coraza.
	b.WriteString(`SecRule REQUEST_HEADERS:Content-Type "@rx (?i)^application/(?:[a-z0-9.-]+\+)?json" "id:10001,phase:1,t:none,pass,nolog,ctl:requestBodyProcessor=JSON"` + "\n")
	b.WriteString(`SecRule REQUEST_HEADERS:Content-Type "@rx (?i)^(?:application(?:/soap\+|/)|text/)xml" "id:10002,phase:1,t:none,pass,nolog,ctl:requestBodyProcessor=XML"` + "\n")
	// A body its processor cannot parse would hide its fields from every
	// rule: it scores as critical, so it is refused (fail closed).
	b.WriteString(`SecRule REQBODY_ERROR "!@eq 0" "id:10003,phase:2,t:none,block,log,severity:CRITICAL,msg:'Request body could not be parsed',tag:'rampart',setvar:'tx.inbound_anomaly_score_pl1=+%{tx.critical_anomaly_score}'"` + "\n")
	// crs-setup.conf, the parts that matter here.
	b.WriteString(`SecDefaultAction "phase:1,log,auditlog,pass"` + "\n")
	b.WriteString(`SecDefaultAction "phase:2,log,auditlog,pass"` + "\n")
	b.WriteString(`SecDefaultAction "phase:3,log,auditlog,pass"` + "\n")
	b.WriteString(`SecDefaultAction "phase:4,log,auditlog,pass"` + "\n")
	fmt.Fprintf(&b, `SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d"`+"\n", c.ParanoiaLevel)
	fmt.Fprintf(&b, `SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=%d"`+"\n", c.InboundThreshold, c.OutboundThreshold)
	if !c.NoDefaultExclusions {
		// REST APIs use PUT, PATCH and DELETE; the CRS default allows only
		// GET HEAD POST OPTIONS (rule 911100). Routes still list their own
		// methods: the router refuses the others before the WAF.
		b.WriteString(`SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'"` + "\n")
	}
	b.WriteString(`SecAction "id:900990,phase:1,pass,t:none,nolog,tag:'OWASP_CRS',ver:'OWASP_CRS/4.25.0',setvar:tx.crs_setup_version=4250"` + "\n")
	return b.String()
}

// exclusions turns the policy's exclusions into SecLang, checking each id
// and tag against the loaded rules.
func (p *Policy) exclusions() (string, []error) {
	c := p.cfg
	var b strings.Builder
	var errs []error
	if !c.NoDefaultExclusions {
		for _, d := range defaultExclusions {
			if _, ok := p.ids[d.id]; ok {
				fmt.Fprintf(&b, "%s\n", d.directive)
			}
		}
	}
	for i, s := range c.ExcludeRules {
		id, err := strconv.Atoi(s)
		if _, ok := p.ids[id]; err != nil || !ok {
			errs = append(errs, &conf.FieldError{Field: "exclude_rules", Index: i, Msg: fmt.Sprintf("rule %q is not a rule of the loaded rule set", s)})
			continue
		}
		fmt.Fprintf(&b, "SecRuleRemoveById %d\n", id)
	}
	for i, t := range c.ExcludeTags {
		if !p.tags[t] || strings.ContainsAny(t, " \t\"'\\") {
			errs = append(errs, &conf.FieldError{Field: "exclude_tags", Index: i, Msg: fmt.Sprintf("tag %q tags no rule of the loaded rule set", t)})
			continue
		}
		fmt.Fprintf(&b, "SecRuleRemoveByTag %q\n", t)
	}
	for i, t := range c.ExcludeTargets {
		if id, err := strconv.Atoi(t.Rule); err == nil {
			if _, ok := p.ids[id]; !ok {
				errs = append(errs, &conf.FieldError{Field: "exclude_targets", Index: i, Msg: fmt.Sprintf("rule %d is not a rule of the loaded rule set", id)})
				continue
			}
			fmt.Fprintf(&b, "SecRuleUpdateTargetById %d \"!%s\"\n", id, t.Target)
			continue
		}
		if !p.tags[t.Rule] {
			errs = append(errs, &conf.FieldError{Field: "exclude_targets", Index: i, Msg: fmt.Sprintf("rule %q is neither a rule id nor a tag of the loaded rule set", t.Rule)})
			continue
		}
		fmt.Fprintf(&b, "SecRuleUpdateTargetByTag %q \"!%s\"\n", t.Rule, t.Target)
	}
	return b.String(), errs
}

// Result is what the CRS found in one request: the rules that matched, the
// anomaly score and the names of the variables they matched — never the
// values, beyond a short redacted excerpt.
type Result struct {
	Policy string
	// Blocked: the score reached the threshold (in detect mode, would
	// have been refused).
	Blocked   bool
	Score     int
	Rules     []int    // matched rule ids, sorted, without the blocking rule
	Variables []string // matched variables (ARGS:json.name), at most maxVariables
	Excerpt   string   // a short redacted excerpt of the first matched value (requests only)
	// Response: found in the upstream's answer (inspect_responses), whose
	// score is the outbound one.
	Response bool
}

const maxVariables = 8

// Error describes the result for the audit log: the "error" of a
// request-blocked rejection. Report parses it back (see ParseEvent).
func (r *Result) Error() string {
	var b strings.Builder
	side := ""
	if r.Response {
		side = " (response)"
	}
	fmt.Fprintf(&b, "waf %s%s: score %d; rules %s; variables %s", r.Policy, side, r.Score, joinInts(r.Rules), strings.Join(r.Variables, ","))
	if r.Excerpt != "" {
		fmt.Fprintf(&b, "; excerpt %q", r.Excerpt)
	}
	return b.String()
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// Request is what the gateway hands Inspect: the request, the client's
// address as the gateway resolved it (never X-Forwarded-For read raw) and
// the buffered body (nil for none).
type Request struct {
	HTTP   *http.Request
	ID     string
	Client netip.Addr
	Body   io.Reader
}

// Inspect runs the request side of the CRS (phases 1 and 2) on req. A nil
// Result means nothing matched. The error is an engine failure: the caller
// refuses the request (fail closed).
func (p *Policy) Inspect(req Request) (*Result, error) {
	res, x, err := p.Begin(req)
	x.Close()
	return res, err
}

// Begin is Inspect that, when the policy inspects responses and the request
// was not refused, keeps the transaction open for the answer: the Exchange
// (never nil) takes the response's header and body, and must be closed.
func (p *Policy) Begin(req Request) (*Result, *Exchange, error) {
	r := req.HTTP
	x := &Exchange{p: p, tx: p.waf.NewTransactionWithID(req.ID)}
	tx := x.tx
	client := ""
	if req.Client.IsValid() {
		client = req.Client.String()
	}
	tx.ProcessConnection(client, 0, "", 0)
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	tx.ProcessURI(uri, r.Method, r.Proto)
	for k, vs := range r.Header {
		for _, v := range vs {
			tx.AddRequestHeader(k, v)
		}
	}
	if r.Host != "" {
		tx.AddRequestHeader("Host", r.Host)
		tx.SetServerName(r.Host)
	}
	if r.ContentLength > 0 && r.Header.Get("Content-Length") == "" {
		tx.AddRequestHeader("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	it := tx.ProcessRequestHeaders()
	if it == nil && req.Body != nil {
		var err error
		if it, _, err = tx.ReadRequestBodyFrom(req.Body); err != nil {
			return nil, x, fmt.Errorf("waf %q: reading the body: %w", p.cfg.Name, err)
		}
	}
	if it == nil {
		var err error
		if it, err = tx.ProcessRequestBody(); err != nil {
			return nil, x, fmt.Errorf("waf %q: %w", p.cfg.Name, err)
		}
	}
	matched := tx.MatchedRules()
	x.seen = len(matched)
	res := p.result(matched, it != nil, blockingRule, false)
	if p.cfg.InspectResponses && (res == nil || !res.Blocked || p.Detect()) {
		x.open = true
	}
	return res, x, nil
}

// Exchange is one request's Coraza transaction, kept open for the response
// phases (3 and 4) when the policy inspects responses.
type Exchange struct {
	p    *Policy
	tx   types.Transaction
	seen int  // rules matched by the request phases, already reported
	open bool // the response is to be inspected
	body bool // Headers chose to read the body
	held int64
}

// Inspects reports whether the answer is to be inspected (Headers, Write,
// Finish); false for a policy without inspect_responses.
func (x *Exchange) Inspects() bool { return x != nil && x.open }

// Headers runs phase 3 on the answer's status and header. It reports
// whether the body is to be held back and inspected (textual, not
// compressed: rule 10004) and a Result when the header alone was refused.
func (x *Exchange) Headers(status int, proto string, h http.Header) (readBody bool, res *Result) {
	tx := x.tx
	for k, vs := range h {
		for _, v := range vs {
			tx.AddResponseHeader(k, v)
		}
	}
	if it := tx.ProcessResponseHeaders(status, proto); it != nil {
		return false, x.result(true)
	}
	x.body = tx.IsResponseBodyAccessible() && tx.IsResponseBodyProcessable()
	return x.body, nil
}

// Write adds p to the held-back body, as much of it as the limit allows:
// n < len(p) (or full) means the limit is reached and the rest of the body
// is not inspected.
func (x *Exchange) Write(p []byte) (n int, full bool, err error) {
	limit := int64(x.p.cfg.MaxResponseBytes)
	room := limit - x.held
	if room <= 0 {
		return 0, true, nil
	}
	if int64(len(p)) < room {
		room = int64(len(p))
	}
	// WriteResponseBody runs phase 4 itself when the write reaches the
	// limit (ProcessPartial); Finish then finds the phase done.
	if _, n, err = x.tx.WriteResponseBody(p[:room]); err != nil {
		return n, false, fmt.Errorf("waf %q: %w", x.p.cfg.Name, err)
	}
	x.held += int64(n)
	return n, x.held >= limit, nil
}

// Held is the body as written so far (what was inspected), to be sent on.
func (x *Exchange) Held() (io.Reader, error) { return x.tx.ResponseBodyReader() }

// Finish runs phase 4 on the held-back body (or on none) and reports what
// the response rules found: nil when nothing matched.
func (x *Exchange) Finish() (*Result, error) {
	it, err := x.tx.ProcessResponseBody()
	if err != nil {
		return nil, fmt.Errorf("waf %q: %w", x.p.cfg.Name, err)
	}
	return x.result(it != nil), nil
}

func (x *Exchange) result(interrupted bool) *Result {
	matched := x.tx.MatchedRules()
	res := x.p.result(matched[min(x.seen, len(matched)):], interrupted, outboundBlockingRule, true)
	return res
}

// Close ends the transaction. It is safe on a nil Exchange and twice.
func (x *Exchange) Close() {
	if x != nil && x.tx != nil {
		_ = x.tx.Close()
		x.tx = nil
	}
}

// outboundBlockingRule is the CRS rule that withholds an answer whose
// outbound anomaly score reached the threshold.
const outboundBlockingRule = 959100

// result summarizes the matched rules; nil when none of the detection rules
// matched.
func (p *Policy) result(matched []types.MatchedRule, interrupted bool, blocking int, response bool) *Result {
	res := &Result{Policy: p.cfg.Name, Blocked: interrupted, Response: response}
	seenVar := map[string]bool{}
	sum := 0
	for _, m := range matched {
		id := m.Rule().ID()
		if id == blocking {
			res.Blocked = true
			if s, ok := totalScore(m.Message()); ok {
				res.Score = s
			}
			continue
		}
		if l, ok := m.(interface{ Log() bool }); ok && !l.Log() || id >= 949000 && id < 950000 || id >= 959000 {
			continue // nolog (setup, flow control) and evaluation rules are not findings
		}
		res.Rules = append(res.Rules, id)
		sum += severityScore(m.Rule().Severity())
		for _, d := range m.MatchedDatas() {
			name := d.Variable().Name()
			if k := d.Key(); k != "" {
				name += ":" + k
			}
			if seenVar[name] || len(res.Variables) >= maxVariables {
				continue
			}
			seenVar[name] = true
			res.Variables = append(res.Variables, boundName(name))
			if res.Excerpt == "" && !response { // an answer's data is what leaked: none of it is logged
				res.Excerpt = excerpt(name, d.Value())
			}
		}
	}
	if len(res.Rules) == 0 && !res.Blocked {
		return nil
	}
	if res.Score == 0 {
		res.Score = sum
	}
	sort.Ints(res.Rules)
	res.Rules = uniq(res.Rules)
	return res
}

// totalScore reads the score from 949110's message, "Inbound Anomaly Score
// Exceeded (Total Score: 10)".
func totalScore(msg string) (int, bool) {
	_, after, ok := strings.Cut(msg, "Total Score: ")
	if !ok {
		return 0, false
	}
	end := strings.IndexFunc(after, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(after)
	}
	n, err := strconv.Atoi(after[:end])
	return n, err == nil
}

// severityScore is the anomaly score CRS adds for a rule of severity s.
func severityScore(s types.RuleSeverity) int {
	switch s {
	case types.RuleSeverityCritical:
		return 5
	case types.RuleSeverityError:
		return 4
	case types.RuleSeverityWarning:
		return 3
	case types.RuleSeverityNotice:
		return 2
	}
	return 0
}

func uniq(ns []int) []int {
	out := ns[:0]
	for i, n := range ns {
		if i == 0 || n != ns[i-1] {
			out = append(out, n)
		}
	}
	return out
}

// boundName keeps a variable name short and printable: names come from
// the request (JSON keys, header names).
func boundName(s string) string {
	return redact(s, 64)
}

// excerptBytes is the most of a matched value the audit event shows.
const excerptBytes = 24

// excerpt is a short, redacted piece of a matched value: nothing from
// headers and cookies (credentials live there), digits masked (card and
// account numbers), control characters replaced.
func excerpt(variable, value string) string {
	v := strings.ToUpper(variable)
	if strings.HasPrefix(v, "REQUEST_HEADERS") || strings.HasPrefix(v, "REQUEST_COOKIES") {
		return ""
	}
	return redact(value, excerptBytes)
}

func redact(s string, n int) string {
	var b strings.Builder
	for i, r := range s {
		if i >= n {
			b.WriteString("…")
			break
		}
		switch {
		case r >= '0' && r <= '9':
			b.WriteByte('#')
		case r < 0x20 || r == 0x7f || r == '"' || r == '\\':
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
