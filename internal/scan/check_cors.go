package scan

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// evilOrigin is an origin no API should trust (.example is reserved, RFC 2606).
const evilOrigin = "https://evil-rampart-scan.example"

// checkCORS is CORS001-CORS004, on one operation that answers (2xx
// preferred), with the same credential as its baseline.
func (s *scanner) checkCORS(ctx context.Context) {
	rules := []string{"CORS001", "CORS002", "CORS003", "CORS004"}
	ep := s.pickRead(func(*endpoint) bool { return true })
	if ep == nil && len(s.eps) > 0 && s.eps[0].best() != nil {
		ep = s.eps[0]
	}
	if ep == nil || s.out(ctx) {
		for _, r := range rules {
			s.skipped(r, "no operation answered to probe")
		}
		return
	}
	trusted := s.trustedOrigin()
	probe := func(origin string) *exchange {
		return s.sendLike(ctx, ep, http.MethodGet, ep.target, http.Header{"Origin": {origin}}, kindProbe)
	}
	s.tested(rules...)
	evil := probe(evilOrigin)
	evilReflected := evil != nil && allowsOrigin(evil, evilOrigin)
	if evil != nil {
		s.judgeCORS(evil, evilOrigin, "an arbitrary origin", "CORS001")
	}
	if !evilReflected && !s.out(ctx) {
		// Some servers answer CORS only on preflights.
		h := http.Header{"Origin": {evilOrigin}, "Access-Control-Request-Method": {http.MethodGet}}
		if pre := s.sendLike(ctx, ep, http.MethodOptions, ep.target, h, kindProbe); pre != nil {
			if allowsOrigin(pre, evilOrigin) {
				evilReflected = true
			}
			s.judgeCORS(pre, evilOrigin, "an arbitrary origin (preflight)", "CORS001")
		}
	}
	if !s.out(ctx) {
		if ex := probe("null"); ex != nil {
			s.judgeCORS(ex, "null", "the null origin", "CORS002")
		}
	}
	if evilReflected {
		s.partial("CORS004", "not probed: any origin is already accepted (CORS001/CORS003)")
		return
	}
	for _, la := range lookalikes(trusted) {
		if s.out(ctx) {
			s.partial("CORS004", "request budget exhausted")
			return
		}
		if ex := probe(la.origin); ex != nil {
			s.judgeCORS(ex, la.origin, fmt.Sprintf("a look-alike of %s (%s)", trusted, la.kind), "CORS004")
		}
	}
}

// allowsOrigin reports whether ex lets origin read it.
func allowsOrigin(ex *exchange, origin string) bool {
	return strings.TrimSpace(ex.header.Get("Access-Control-Allow-Origin")) == origin
}

func allowsCredentials(ex *exchange) bool {
	return strings.EqualFold(strings.TrimSpace(ex.header.Get("Access-Control-Allow-Credentials")), "true")
}

// judgeCORS reports what ex allows for the untrusted origin: without
// credentials it is rule (CORS001/002/004), with them CORS003.
func (s *scanner) judgeCORS(ex *exchange, origin, what, rule string) {
	acao := ex.header.Get("Access-Control-Allow-Origin")
	switch {
	case allowsOrigin(ex, origin) && allowsCredentials(ex):
		s.found(hit{rule: "CORS003", ex: ex, key: "cors",
			message: fmt.Sprintf("%s %s allows %s to read responses with the visitor's credentials.", ex.req.method, s.red.url(ex.url), what),
			proof:   fmt.Sprintf("Origin: %s → Access-Control-Allow-Origin: %s, Access-Control-Allow-Credentials: true", origin, acao)})
	case allowsOrigin(ex, origin):
		s.found(hit{rule: rule, ex: ex, key: "cors",
			message: fmt.Sprintf("%s %s allows %s to read its responses.", ex.req.method, s.red.url(ex.url), what),
			proof:   fmt.Sprintf("Origin: %s → Access-Control-Allow-Origin: %s", origin, acao)})
	case strings.TrimSpace(acao) == "*" && allowsCredentials(ex):
		s.found(hit{rule: "CORS003", ex: ex, key: "wildcard", override: true, severity: Low,
			message: fmt.Sprintf("%s %s combines Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true; browsers refuse the pair, but the policy intends to share credentialed responses with everyone (low).", ex.req.method, s.red.url(ex.url)),
			proof:   "Access-Control-Allow-Origin: *, Access-Control-Allow-Credentials: true"})
	}
}

// trustedOrigin is the origin the API is most likely meant to trust: a fixed
// Access-Control-Allow-Origin seen in a baseline, else the target's own.
func (s *scanner) trustedOrigin() string {
	for _, ep := range s.eps {
		for _, ex := range []*exchange{ep.unauth, ep.auth} {
			if ex == nil {
				continue
			}
			o := strings.TrimSpace(ex.header.Get("Access-Control-Allow-Origin"))
			if u, err := url.Parse(o); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.Path == "" {
				return o
			}
		}
	}
	return s.target.Scheme + "://" + s.target.Host
}

type lookalike struct{ origin, kind string }

// lookalikes of a trusted origin that broken checks accept: a prefix match
// ("https://app.example.com.evil…") and a suffix match ("https://evilapp.example.com").
func lookalikes(trusted string) []lookalike {
	u, err := url.Parse(trusted)
	if err != nil || u.Host == "" {
		return nil
	}
	port := ""
	if u.Port() != "" {
		port = ":" + u.Port()
	}
	return []lookalike{
		{u.Scheme + "://" + u.Hostname() + ".evil-rampart-scan.example" + port, "prefix match"},
		{u.Scheme + "://evil" + u.Hostname() + port, "suffix match"},
	}
}
