package scan

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
)

func is2xx(ex *exchange) bool { return ex != nil && ex.status >= 200 && ex.status < 300 }

func refused(ex *exchange) bool {
	return ex != nil && (ex.status == http.StatusUnauthorized || ex.status == http.StatusForbidden)
}

// schemeNames lists an operation's security schemes, for messages.
func schemeNames(op *Operation) string {
	var names []string
	for _, req := range op.Security {
		names = append(names, strings.Join(sortedKeys(req), " + "))
	}
	return strings.Join(names, " or ")
}

// checkAuth is AUTH001: documented-as-secured operations answering 2xx
// without credentials. GET baselines are already there; with
// --allow-unsafe, secured writes are tried too (with a sample body).
func (s *scanner) checkAuth(ctx context.Context) {
	if s.api == nil {
		s.skipped("AUTH001", "needs --openapi (or a document at a well-known path)")
		return
	}
	secured := 0
	for _, ep := range s.eps {
		if ep.op == nil || !ep.op.Secured() {
			continue
		}
		secured++
		if is2xx(ep.unauth) {
			s.found(hit{rule: "AUTH001", ex: ep.unauth, key: ep.method + " " + ep.template,
				message: fmt.Sprintf("%s %s is documented as secured (%s) but answered %d without any credential.", ep.method, ep.template, schemeNames(ep.op), ep.unauth.status),
				proof:   fmt.Sprintf("no credential sent → %d", ep.unauth.status)})
		}
	}
	writes := 0
	for _, op := range s.unsafe {
		if !op.Secured() {
			continue
		}
		if !s.opts.AllowUnsafe {
			writes++
			continue
		}
		if s.out(ctx) {
			break
		}
		secured++
		body, _ := jsonBody(sample(op.Body, 0), op.Body != nil)
		ex := s.send(ctx, &request{method: op.Method, target: s.fill(op, nil), body: body, kind: kindProbe})
		if is2xx(ex) {
			s.found(hit{rule: "AUTH001", ex: ex, key: op.Method + " " + op.Path,
				message: fmt.Sprintf("%s %s is documented as secured (%s) but answered %d without any credential.", op.Method, op.Path, schemeNames(op), ex.status),
				proof:   fmt.Sprintf("no credential sent → %d", ex.status)})
		}
	}
	switch {
	case secured == 0 && writes == 0:
		s.skipped("AUTH001", "the OpenAPI document marks no operation as secured")
	case secured == 0:
		s.skipped("AUTH001", "only write operations are secured; they are probed with --allow-unsafe")
	default:
		s.tested("AUTH001")
		if writes > 0 {
			s.partial("AUTH001", fmt.Sprintf("%d secured write operation(s) not probed (needs --allow-unsafe)", writes))
		}
	}
}

// maxTokenEndpoints bounds the token probes.
const maxTokenEndpoints = 2

// checkTokens is AUTH002-AUTH005: tokens a correct verifier must refuse,
// sent to operations that refuse requests without credentials.
func (s *scanner) checkTokens(ctx context.Context) {
	rules := []string{"AUTH002", "AUTH003", "AUTH004", "AUTH005"}
	var targets []*endpoint
	for _, ep := range s.eps {
		if refused(ep.unauth) && len(targets) < maxTokenEndpoints {
			targets = append(targets, ep)
		}
	}
	// Paths found refusing elsewhere (an inventory hit such as /admin).
	for _, p := range s.protected {
		if len(targets) >= maxTokenEndpoints || slices.ContainsFunc(s.eps, func(e *endpoint) bool { t, _, _ := strings.Cut(e.target, "?"); return t == p }) {
			continue
		}
		targets = append(targets, &endpoint{method: http.MethodGet, template: p, target: p,
			unauth: s.send(ctx, &request{method: http.MethodGet, target: p, kind: kindProbe})})
		if !refused(targets[len(targets)-1].unauth) {
			targets = targets[:len(targets)-1]
		}
	}
	if len(targets) == 0 {
		for _, r := range rules {
			s.skipped(r, "no probed operation answered 401/403 without credentials")
		}
		return
	}
	if s.opts.Token != "" && s.token == nil {
		s.note("--token is not a JWT: token probes use synthetic claims, and AUTH005 (altered signature) is skipped")
	}
	tokens := forgeTokens(s.token, s.opts.Now())
	for _, ep := range targets {
		for _, f := range tokens {
			if s.out(ctx) {
				break
			}
			s.tested(f.rule)
			h := http.Header{"Authorization": {"Bearer " + f.token}}
			ex := s.send(ctx, &request{method: ep.method, target: ep.target, header: h, kind: kindProbe, credNote: f.note})
			if is2xx(ex) {
				s.found(hit{rule: f.rule, ex: ex, baseline: ep.unauth, key: f.rule,
					message: fmt.Sprintf("%s %s refused a request without credentials (%d) but accepted a %s (%d).", ep.method, ep.template, ep.unauth.status, f.note, ex.status),
					proof:   fmt.Sprintf("without credentials → %d; with the %s → %d", ep.unauth.status, f.note, ex.status)})
			}
		}
	}
	if s.token == nil {
		s.skipped("AUTH005", "needs a valid JWT in --token")
	} else if ep := targets[0]; refused(ep.auth) {
		// Only 401/403 is a refusal: a 404 is the example resource missing.
		s.partial("AUTH005", fmt.Sprintf("--token itself was refused (%d): acceptance of forged tokens is still reported, but the token may be invalid for this API", ep.auth.status))
	}
	if s.token == nil || !isExpired(s.token, s.opts.Now()) {
		s.partial("AUTH004", "without an expired --token only a re-dated token with an invalid signature is tried: a service that verifies signatures but ignores exp is not detected")
	}
}

// reAdmin spots privileged operations by name.
var reAdmin = regexp.MustCompile(`(?i)(^|[/_.\-{}]|\b)(admin|administrator|internal|manage|management|superuser|sudo|staff|operator|backoffice|privileged|root)($|[/_.\-{}]|\b|s\b)`)

// adminLooking reports whether op looks privileged by its path, id or tags.
func adminLooking(op *Operation) bool {
	if reAdmin.MatchString(op.Path) || reAdmin.MatchString(op.ID) {
		return true
	}
	return slices.ContainsFunc(op.Tags, reAdmin.MatchString)
}

// missingScopes returns the scopes op needs that the token lacks, taking
// the easiest alternative; nil when some alternative is satisfied.
func missingScopes(op *Operation, have []string) []string {
	var best []string
	for i, req := range op.Security {
		var miss []string
		for _, scopes := range req {
			for _, sc := range scopes {
				if !slices.Contains(have, sc) {
					miss = append(miss, sc)
				}
			}
		}
		if len(miss) == 0 {
			return nil
		}
		sort.Strings(miss)
		if i == 0 || len(miss) < len(best) {
			best = miss
		}
	}
	return best
}

func declaresScopes(op *Operation) bool {
	for _, req := range op.Security {
		for _, scopes := range req {
			if len(scopes) > 0 {
				return true
			}
		}
	}
	return false
}

// checkFunctionAuthz is AUTHZ001, from the authenticated baselines.
func (s *scanner) checkFunctionAuthz() {
	switch {
	case s.api == nil:
		s.skipped("AUTHZ001", "needs --openapi and a low-privilege credential")
		return
	case !s.hasCreds():
		s.skipped("AUTHZ001", "needs a low-privilege credential (--token or --api-key)")
		return
	}
	var scopes []string
	scopesKnown := false
	if s.token != nil {
		scopes, scopesKnown = s.token.scopes()
		for _, v := range append(slices.Clone(scopes), s.token.roles()...) {
			if reAdmin.MatchString(v) {
				s.skipped("AUTHZ001", fmt.Sprintf("the credential looks privileged (%q in its scopes or roles): give the scan a low-privilege one", v))
				return
			}
		}
	}
	privileged, credOK, credRefused := 0, false, false
	for _, ep := range s.eps {
		if ep.op == nil || !ep.op.Secured() || ep.auth == nil {
			continue
		}
		if is2xx(ep.auth) {
			credOK = true
		}
		if refused(ep.auth) {
			credRefused = true
		}
		why := ""
		if scopesKnown && declaresScopes(ep.op) {
			// The document says what is needed: trust it over names.
			if miss := missingScopes(ep.op, scopes); len(miss) > 0 {
				why = fmt.Sprintf("it requires scopes %s that the token does not carry", strings.Join(miss, ", "))
			}
		} else if adminLooking(ep.op) {
			why = "it looks like an admin operation"
		}
		if why == "" {
			continue
		}
		privileged++
		if is2xx(ep.auth) {
			s.found(hit{rule: "AUTHZ001", ex: ep.auth, baseline: ep.unauth, key: ep.method + " " + ep.template,
				message: fmt.Sprintf("%s %s answered %d to the scan's credential although %s.", ep.method, ep.template, ep.auth.status, why),
				proof:   fmt.Sprintf("with the scan's low-privilege credential → %d (%s)", ep.auth.status, why)})
		}
	}
	switch {
	case privileged == 0:
		s.skipped("AUTHZ001", "no admin-looking or differently-scoped secured GET operation in the document")
	case !credOK && credRefused:
		s.partial("AUTHZ001", "no secured operation answered 2xx to the credential and some refused it (401/403): authorization could not be told apart from authentication")
	case !credOK:
		// 404s on example values are missing objects, not a refused token.
		s.partial("AUTHZ001", "no secured operation answered 2xx to the credential (the example values may name objects that do not exist): nothing to judge")
	default:
		s.tested("AUTHZ001")
		s.partial("AUTHZ001", "only GET operations are probed with the credential; privileged writes are never sent")
	}
}
