package scan

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
)

// overrideHeaders are the method-override headers frameworks honour.
var overrideHeaders = []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}

const traceMarker = "rampart-scan-trace-7c1e2f"

// checkMethods is METH001 (TRACE) and METH002 (method override).
func (s *scanner) checkMethods(ctx context.Context) {
	root := s.rootTarget()
	// METH001. TRACE is outside GET/HEAD/OPTIONS: without --allow-unsafe
	// only an OPTIONS answer advertising it can be reported (as info).
	switch {
	case s.out(ctx):
		s.skipped("METH001", "request budget exhausted")
	case s.opts.AllowUnsafe:
		s.tested("METH001")
		h := http.Header{"X-Rampart-Scan-Trace": {traceMarker}}
		ex := s.send(ctx, &request{method: http.MethodTrace, target: root, header: h, kind: kindProbe})
		if is2xx(ex) && bytes.Contains(ex.body, []byte(traceMarker)) {
			s.found(hit{rule: "METH001", ex: ex, key: "trace", bodyAt: traceMarker,
				message: "TRACE is enabled: the request, headers included, is echoed back.",
				proof:   fmt.Sprintf("TRACE %s → %d, echoing the X-Rampart-Scan-Trace header sent", s.red.url(ex.url), ex.status)})
		}
	default:
		s.partial("METH001", "TRACE was not sent (needs --allow-unsafe); only an Allow header advertising it is reported")
		if ex := s.send(ctx, &request{method: http.MethodOptions, target: root, kind: kindProbe}); ex != nil && allowsTrace(ex.header.Get("Allow")) {
			s.found(hit{rule: "METH001", ex: ex, override: true, severity: Info, key: "trace",
				message: "OPTIONS advertises TRACE in Allow (not confirmed: TRACE is sent only with --allow-unsafe).",
				proof:   "Allow: " + ex.header.Get("Allow")})
		}
	}
	s.checkOverride(ctx)
}

func allowsTrace(allow string) bool {
	for _, m := range strings.Split(allow, ",") {
		if strings.EqualFold(strings.TrimSpace(m), "TRACE") {
			return true
		}
	}
	return false
}

// checkOverride is METH002. Safe probe: GET with an override to OPTIONS on
// an operation that answers GET with a body: if honoured, the answer turns
// into an OPTIONS answer (204/405/501, or an empty body with Allow). With
// --allow-unsafe: POST with an override to GET where plain POST is refused.
func (s *scanner) checkOverride(ctx context.Context) {
	ep := s.pickRead(func(e *endpoint) bool { return len(bytes.TrimSpace(e.best().body)) > 0 })
	if ep == nil {
		s.skipped("METH002", "no GET operation answered 2xx with a body")
		return
	}
	base := ep.best()
	for _, name := range overrideHeaders {
		if s.out(ctx) {
			s.partial("METH002", "request budget exhausted")
			return
		}
		s.tested("METH002")
		ex := s.sendLike(ctx, ep, http.MethodGet, ep.target, http.Header{name: {http.MethodOptions}}, kindProbe)
		if ex == nil {
			continue
		}
		// Did the answer turn into something else? (An OPTIONS answer:
		// 204, 405, 501, 404 from a router without OPTIONS routes, or an
		// empty body with Allow.)
		changed := ex.status != base.status && !is2xx(ex) && ex.status != http.StatusBadRequest && ex.status != http.StatusForbidden && ex.status < 500 ||
			ex.status == http.StatusNoContent ||
			is2xx(ex) && len(bytes.TrimSpace(ex.body)) == 0 && ex.header.Get("Allow") != "" && base.header.Get("Allow") == ""
		if !changed {
			continue
		}
		// Confirm it is the method, not the header's presence (a WAF may
		// refuse unknown headers): an override to GET must answer as usual.
		same := s.sendLike(ctx, ep, http.MethodGet, ep.target, http.Header{name: {http.MethodGet}}, kindProbe)
		if same != nil && same.status == base.status {
			s.found(hit{rule: "METH002", ex: ex, baseline: base, key: "override",
				message: fmt.Sprintf("%s is honoured: GET %s with %s: OPTIONS was answered as an OPTIONS request (%s instead of %s), and with %s: GET as usual.", name, ep.template, name, answer(ex), answer(base), name),
				proof:   fmt.Sprintf("GET → %s; GET with %s: OPTIONS → %s; GET with %s: GET → %d", answer(base), name, answer(ex), name, same.status)})
			return
		}
	}
	if !s.opts.AllowUnsafe || s.out(ctx) {
		return
	}
	if ep.op != nil && s.api != nil && s.hasMethod(ep.op.Path, http.MethodPost) {
		return
	}
	plain := s.sendLike(ctx, ep, http.MethodPost, ep.target, nil, kindProbe)
	if plain == nil || (plain.status != http.StatusMethodNotAllowed && plain.status != http.StatusNotFound && plain.status != http.StatusNotImplemented) {
		return
	}
	for _, name := range overrideHeaders {
		if s.out(ctx) {
			return
		}
		ex := s.sendLike(ctx, ep, http.MethodPost, ep.target, http.Header{name: {http.MethodGet}}, kindProbe)
		if is2xx(ex) {
			s.found(hit{rule: "METH002", ex: ex, baseline: plain, key: "override",
				message: fmt.Sprintf("%s is honoured: POST %s is refused (%d) but POST with %s: GET answered %d.", name, ep.template, plain.status, name, ex.status),
				proof:   fmt.Sprintf("POST → %d; POST with %s: GET → %d", plain.status, name, ex.status)})
			return
		}
	}
}

func (s *scanner) hasMethod(path, method string) bool {
	for _, op := range s.api.Operations {
		if op.Path == path && op.Method == method {
			return true
		}
	}
	return false
}

// answer describes a response briefly: "200", "200 with an empty body and Allow: GET, HEAD".
func answer(ex *exchange) string {
	if is2xx(ex) && len(bytes.TrimSpace(ex.body)) == 0 {
		if a := ex.header.Get("Allow"); a != "" {
			return fmt.Sprintf("%d with an empty body and Allow: %s", ex.status, a)
		}
		return fmt.Sprintf("%d with an empty body", ex.status)
	}
	return fmt.Sprint(ex.status)
}
