package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxOperations bounds how many documented GET operations get baselines.
const maxOperations = 40

// baselines sends each documented GET operation (or the target URL when
// there is no document) once without credentials and, when the scan has a
// credential, once with it. Every other check starts from these answers.
func (s *scanner) baselines(ctx context.Context) {
	if s.api == nil {
		ep := &endpoint{method: http.MethodGet, template: s.rootTarget(), target: s.rootTarget(), unauth: s.base}
		if s.hasCreds() {
			ep.auth = s.sendAuthed(ctx, ep, nil, kindBaseline)
		}
		s.eps = append(s.eps, ep)
		return
	}
	n := 0
	for _, op := range s.api.Operations {
		switch op.Method {
		case http.MethodGet:
			if !s.allowed(op) {
				continue
			}
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			// Writes are classified only when they could be sent.
			if !s.opts.AllowUnsafe || s.allowed(op) {
				s.unsafe = append(s.unsafe, op)
			}
			continue
		default:
			continue
		}
		if n == maxOperations {
			s.note(fmt.Sprintf("the document has more than %d GET operations: only the first %d (by path) were probed", maxOperations, maxOperations))
			break
		}
		n++
		ep := &endpoint{method: op.Method, template: op.Path, target: s.fill(op, nil), op: op}
		ep.unauth = s.send(ctx, &request{method: op.Method, target: ep.target, kind: kindBaseline})
		if s.hasCreds() && op.Secured() {
			ep.auth = s.sendAuthed(ctx, ep, nil, kindBaseline)
		}
		s.eps = append(s.eps, ep)
	}
	if len(s.eps) == 0 {
		// A document with only writes: the target URL still tells about headers.
		s.eps = append(s.eps, &endpoint{method: http.MethodGet, template: s.rootTarget(), target: s.rootTarget(), unauth: s.base})
	}
}

// rootTarget is the target URL's own request target.
func (s *scanner) rootTarget() string {
	t := s.target.EscapedPath()
	if t == "" {
		t = "/"
	}
	if s.target.RawQuery != "" {
		t += "?" + s.target.RawQuery
	}
	return t
}

func (s *scanner) hasCreds() bool { return s.opts.Token != "" || s.opts.APIKey != "" }

// credential returns the headers (and query pair) carrying the user's
// credential for op, placed where the document's security scheme says.
func (s *scanner) credential(op *Operation) (http.Header, string) {
	h := http.Header{}
	query := ""
	keyHeader := s.opts.APIKeyHeader
	if op != nil && s.api != nil {
		for _, req := range op.Security {
			for name := range req {
				sch := s.api.Schemes[name]
				if sch.Type == "apiKey" && s.opts.APIKey != "" && sch.Name != "" {
					switch sch.In {
					case "header":
						keyHeader = sch.Name
					case "query":
						query = url.QueryEscape(sch.Name) + "=" + url.QueryEscape(s.opts.APIKey)
						keyHeader = ""
					case "cookie":
						h.Set("Cookie", sch.Name+"="+s.opts.APIKey)
						keyHeader = ""
					}
				}
			}
		}
	}
	if s.opts.Token != "" {
		h.Set("Authorization", "Bearer "+s.opts.Token)
	}
	if s.opts.APIKey != "" && keyHeader != "" {
		h.Set(keyHeader, s.opts.APIKey)
	}
	return h, query
}

// sendAuthed sends ep's request with the user's credential.
func (s *scanner) sendAuthed(ctx context.Context, ep *endpoint, body []byte, k kind) *exchange {
	h, q := s.credential(ep.op)
	return s.send(ctx, &request{method: ep.method, target: withQuery(ep.target, q), header: h, body: body, kind: k, creds: true})
}

// sendLike repeats ep's best baseline (same credential) with changes.
func (s *scanner) sendLike(ctx context.Context, ep *endpoint, method, target string, extra http.Header, k kind) *exchange {
	h := http.Header{}
	q := ""
	creds := ep.auth != nil
	if creds {
		h, q = s.credential(ep.op)
	}
	for k, v := range extra {
		h[k] = v
	}
	return s.send(ctx, &request{method: method, target: withQuery(target, q), header: h, kind: k, creds: creds})
}

func withQuery(target, q string) string {
	if q == "" {
		return target
	}
	if strings.Contains(target, "?") {
		return target + "&" + q
	}
	return target + "?" + q
}

// fill builds op's request target: the API prefix, path parameters from
// examples (or type-based values), required query parameters. override
// replaces a parameter's raw (already escaped) value, keyed "in:name".
func (s *scanner) fill(op *Operation, override map[string]string) string {
	path := op.Path
	var query []string
	for _, p := range op.Params {
		raw, ok := override[p.In+":"+p.Name]
		switch p.In {
		case "path":
			if !ok {
				raw = url.PathEscape(paramValue(p))
			}
			path = strings.ReplaceAll(path, "{"+p.Name+"}", raw)
		case "query":
			if ok || p.Required {
				if !ok {
					raw = url.QueryEscape(paramValue(p))
				}
				query = append(query, url.QueryEscape(p.Name)+"="+raw)
			}
		}
	}
	// Undeclared template parameters still need a value.
	for strings.Contains(path, "{") {
		i := strings.IndexByte(path, '{')
		j := strings.IndexByte(path[i:], '}')
		if j < 0 {
			break
		}
		path = path[:i] + "1" + path[i+j+1:]
	}
	for k, v := range override {
		if name, ok := strings.CutPrefix(k, "query:"); ok && !slices.ContainsFunc(op.Params, func(p Param) bool { return p.In == "query" && p.Name == name }) {
			query = append(query, url.QueryEscape(name)+"="+v)
		}
	}
	slices.Sort(query)
	t := s.prefix + path
	if len(query) > 0 {
		t += "?" + strings.Join(query, "&")
	}
	return t
}

// paramValue is a plausible value: the example, else one from the schema.
func paramValue(p Param) string {
	if p.Example != nil {
		return scalarString(p.Example)
	}
	v := sample(p.Schema, 0)
	return scalarString(v)
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return "1"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "1"
	}
	return string(b)
}

// sample builds a value that satisfies the common constraints of a schema:
// example, default, first enum value, else a value of the type. Objects get
// their required properties (all declared ones, up to 8, when none is required).
func sample(sc *Schema, d int) any {
	if sc == nil || sc.Unknown || d > 8 {
		return "1"
	}
	switch {
	case sc.Example != nil:
		return sc.Example
	case sc.Default != nil:
		return sc.Default
	case len(sc.Enum) > 0:
		return sc.Enum[0]
	}
	if len(sc.AllOf) > 0 && sc.Properties == nil {
		merged := map[string]any{}
		for _, sub := range sc.AllOf {
			if m, ok := sample(sub, d+1).(map[string]any); ok {
				for k, v := range m {
					merged[k] = v
				}
			}
		}
		return merged
	}
	if sc.Properties == nil {
		for _, alt := range append(slices.Clone(sc.OneOf), sc.AnyOf...) {
			return sample(alt, d+1)
		}
	}
	switch {
	case sc.is("object") || sc.Properties != nil:
		m := map[string]any{}
		names := sc.Required
		if len(names) == 0 {
			names = sortedKeys(sc.Properties)
			if len(names) > 8 {
				names = names[:8]
			}
		}
		for _, n := range names {
			m[n] = sample(sc.Properties[n], d+1)
		}
		return m
	case sc.is("array"):
		return []any{sample(sc.Items, d+1)}
	case sc.is("integer"), sc.is("number"):
		return json.Number("1")
	case sc.is("boolean"):
		return true
	case sc.is("string"):
		switch sc.Format {
		case "uuid":
			return "3fa85f64-5717-4562-b3fc-2c963f66afa6"
		case "email":
			return "scan@example.com"
		case "date":
			return "2024-01-01"
		case "date-time":
			return "2024-01-01T00:00:00Z"
		case "uri", "url":
			return "https://example.com/"
		}
		return "rampart-scan"
	}
	return "1"
}

// --- passive checks, on every response ---

// observe looks at every response as it arrives.
func (s *scanner) observe(ex *exchange) {
	if s.rateSignal == nil && (ex.status == http.StatusTooManyRequests || rateHeader(ex.header) != "") {
		s.rateSignal = ex
	}
	if ex.req.creds && refused(ex) {
		s.credRefusals++
	}
	if ex.status == http.StatusUnauthorized || ex.status == http.StatusForbidden {
		if !ex.req.creds && ex.req.credNote == "" && ex.req.kind != kindBurst {
			path, _, _ := strings.Cut(ex.req.target, "?")
			if !slices.Contains(s.protected, path) && ex.req.method == http.MethodGet {
				s.protected = append(s.protected, path)
			}
		}
	}
	if ex.req.kind == kindBurst {
		return
	}
	s.versionDisclosure(ex)
	if ex.req.kind != kindInventory {
		s.errorDisclosure(ex)
	}
	s.secretsInBody(ex)
	if ex.req.kind == kindBaseline {
		s.hdr.add(ex)
	}
}

// rateHeader names the first rate-limit header present, or "".
func rateHeader(h http.Header) string {
	for _, k := range sortedKeys(h) {
		lk := strings.ToLower(k)
		if lk == "retry-after" || strings.HasPrefix(lk, "ratelimit") || strings.HasPrefix(lk, "x-ratelimit") || strings.HasPrefix(lk, "x-rate-limit") {
			return k
		}
	}
	return ""
}

// jsonBody encodes a sample body; ok is false when there is nothing to send.
func jsonBody(v any, ok bool) ([]byte, bool) {
	if !ok {
		return []byte("{}"), false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("{}"), false
	}
	return b, true
}

// writeRequest is op's write with body as JSON, carrying the scan's
// credential when op is secured and the scan has one.
func (s *scanner) writeRequest(op *Operation, body any) *request {
	raw, _ := json.Marshal(body)
	h := http.Header{}
	q := ""
	creds := op.Secured() && s.hasCreds()
	if creds {
		h, q = s.credential(op)
	}
	h.Set("Content-Type", "application/json")
	return &request{method: op.Method, target: withQuery(s.fill(op, nil), q), header: h, body: raw, kind: kindProbe, creds: creds}
}
