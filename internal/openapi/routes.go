package openapi

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// RouteSpec is one route generated from an operation (routes_from_spec).
// The config loader turns it into a config.Route.
type RouteSpec struct {
	Name     string   // "<document>.<operationId>", sanitized to config name rules
	Path     string   // route template: base path + the operation's path
	Methods  []string // the operation's method
	Upstream string   // Config.Upstream
	Auth     []string // authenticator names in the document's order, or ["none"]
	Scopes   []string // require.scopes: what every accepted alternative demands
	// Optional: the security lists {} beside schemes, so a request without
	// a credential passes anonymously and a presented one must be valid
	// (config.Route.AuthOptional).
	Optional bool
	// Owner holds the operation's x-rampart-owner ownership rules (nil: none).
	Owner   *Owner
	OpenAPI string // the document's name
	// Operation is the operation's id and Pointer its location in the
	// document, for messages.
	Operation string
	Pointer   string
}

// RoutesError lists the operations that cannot become routes.
type RoutesError struct {
	Document string
	Problems []string // "GET /items (#/paths/~1items/get): ..."
}

func (e *RoutesError) Error() string {
	return fmt.Sprintf("openapi %q: routes_from_spec: %s", e.Document, strings.Join(e.Problems, "; "))
}

// Routes generates one route per operation (operations whose paths differ
// only in text around parameters, parameter names or a constant query
// share one). An operation's security (or,
// when it has none, the document's) becomes the route's auth: each
// security scheme maps to an authenticator through cfg.SecuritySchemes, or
// to cfg.Auth (the default) when it has no entry; alternatives (OR) become
// the "any of" list; the scopes of the alternatives become require.scopes,
// which must then be the same for every alternative (Rampart's require
// applies to the route, not per authenticator). Operations whose security
// cannot be expressed this way (a requirement naming two schemes at once,
// alternatives with different scopes) are errors, as are operations with
// no security at all (none, [], or an empty requirement {}) unless
// cfg.AllowPublic: all are listed in one *RoutesError.
func (d *Document) Routes() ([]RouteSpec, error) {
	cfg := d.cfg
	if cfg.Upstream == "" {
		return nil, &RoutesError{Document: cfg.Name, Problems: []string{"upstream is required"}}
	}
	var out []RouteSpec
	var problems []string
	names := map[string]int{}
	for _, g := range d.groups {
		// Operations that share a method and a path shape ("/v1/x" and
		// "/v1/x?beta=true", "/files/{id}" and "/files/{id}.json") are one
		// route: the gateway routes it, the document picks the operation.
		op := g[0]
		rs := RouteSpec{Path: op.template, Methods: []string{op.method}, Upstream: cfg.Upstream,
			OpenAPI: cfg.Name, Operation: op.id, Pointer: "#" + op.where}
		rs.Name = routeName(cfg.Name, op)
		if n := names[rs.Name]; n > 0 {
			rs.Name = fmt.Sprintf("%s-%d", rs.Name, n+1)
		}
		names[rs.Name]++
		auth, scopes, optional, err := d.routeAuth(op)
		for _, o := range g[1:] {
			a, s, opt, e := d.routeAuth(o)
			if err == nil && e == nil && (!slices.Equal(a, auth) || !slices.Equal(s, scopes) || opt != optional || !reflect.DeepEqual(o.owner, op.owner)) {
				e = fmt.Errorf("it shares route %s with %s %s but needs different auth, scopes or ownership rules", op.template, op.method, op.path)
			}
			if e != nil {
				problems = append(problems, fmt.Sprintf("%s %s (#%s): %v", o.method, o.path, o.where, e))
			}
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s %s (#%s): %v", op.method, op.path, op.where, err))
			continue
		}
		rs.Auth, rs.Scopes, rs.Optional, rs.Owner = auth, scopes, optional, op.owner
		out = append(out, rs)
	}
	if len(problems) > 0 {
		return nil, &RoutesError{Document: cfg.Name, Problems: problems}
	}
	return out, nil
}

var errPublic = errors.New("the operation requires no security, or lists {} (anonymous) among its alternatives; set allow_public: true (or auth: none) to serve it with auth: none, or declare security")

// authNone is the auth of public routes (config.AuthNone).
const authNone = "none"

// routeAuth maps the operation's security to a route's auth and
// require.scopes. OpenAPI's alternatives are an OR: any one satisfies the
// operation. An empty alternative ({}) beside others makes authentication
// optional (with allow_public or auth: none): a request without a
// credential passes anonymously, one with a credential must present a
// valid one, whose principal the service then gets (DRF and FastAPI
// optional-auth views expect exactly that); no scopes can be required,
// since anonymous requests satisfy the operation. When no alternative maps
// to an authenticator, or there is no alternative but {}, the route is
// auth: none. Alternatives that differ only in scopes are resolved per
// authenticator: an alternative without scopes mapped to an authenticator
// means any credential it accepts satisfies the operation (drf-spectacular
// lists {jwtAuth: []} beside {oauth2: [read]}, both served by one token
// issuer), else the smallest scope set of its alternatives (a superset is
// never the only way in). The result must be the same for every
// authenticator, since require.scopes applies to the route; otherwise the
// document is refused with the reason.
func (d *Document) routeAuth(op *operation) (auth, scopes []string, optional bool, err error) {
	reqs := d.security
	if op.secSet {
		reqs = op.security
	}
	defaults := d.cfg.Auth
	var named []secRequirement // the alternatives that name schemes
	anonymous := len(reqs) == 0
	for _, r := range reqs {
		if len(r) == 0 {
			anonymous = true // {} in the list: anonymous access is one alternative
		} else {
			named = append(named, r)
		}
	}
	explicitNone := slices.Equal(defaults, []string{authNone})
	if explicitNone {
		defaults = nil // auth: none: no default authenticator; public operations allowed
	}
	if anonymous {
		if !explicitNone && !d.cfg.AllowPublic {
			return nil, nil, false, errPublic
		}
		if len(named) == 0 {
			return []string{authNone}, nil, false, nil
		}
		if auth, _, err := mapAlternatives(named, defaults, d.cfg.SecuritySchemes); err == nil {
			return auth, nil, true, nil
		}
		return []string{authNone}, nil, false, nil // nothing to verify a credential with
	}
	auth, scopes, err = mapAlternatives(named, defaults, d.cfg.SecuritySchemes)
	return auth, scopes, false, err
}

// mapAlternatives maps security alternatives, each naming schemes, to
// authenticators and the scopes they need (see routeAuth).
func mapAlternatives(reqs []secRequirement, defaults []string, schemes map[string]string) (auth, scopes []string, err error) {
	need := map[string][]string{} // authenticator → scopes its credentials need
	for _, r := range reqs {
		if len(r) > 1 {
			names := make([]string, len(r))
			for j, it := range r {
				names[j] = it.scheme
			}
			return nil, nil, fmt.Errorf("a requirement needs schemes %s together; Rampart routes accept any one authenticator", strings.Join(names, " and "))
		}
		it := r[0]
		mapped, ok := schemes[it.scheme]
		var names []string
		switch {
		case ok:
			names = []string{mapped}
		case len(defaults) > 0:
			names = defaults
		default:
			return nil, nil, fmt.Errorf("security scheme %q has no authenticator in security_schemes and there is no default auth", it.scheme)
		}
		sc := slices.Clone(it.scopes)
		slices.Sort(sc)
		sc = slices.Compact(sc)
		for _, n := range names {
			prev, seen := need[n]
			switch {
			case !seen:
				auth = append(auth, n)
				need[n] = sc
			case isSubset(sc, prev):
				need[n] = sc
			case !isSubset(prev, sc):
				return nil, nil, fmt.Errorf("authenticator %q serves alternatives with unrelated scopes (%s vs %s); Rampart's require.scopes applies to the whole route",
					n, strings.Join(prev, " "), strings.Join(sc, " "))
			}
		}
	}
	scopes = need[auth[0]]
	for _, n := range auth[1:] {
		if !slices.Equal(need[n], scopes) {
			return nil, nil, fmt.Errorf("alternatives require different scopes (%s for %q vs %s for %q); Rampart's require.scopes applies to the whole route",
				strings.Join(scopes, " "), auth[0], strings.Join(need[n], " "), n)
		}
	}
	if len(scopes) == 0 {
		scopes = nil
	}
	return auth, scopes, nil
}

// isSubset reports whether every entry of a (sorted) is in b (sorted).
func isSubset(a, b []string) bool {
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			return false
		}
	}
	return true
}

// routeName builds a config-valid name: 1-64 of [A-Za-z0-9_.-].
func routeName(doc string, op *operation) string {
	base := op.id
	if base == op.method+" "+op.path {
		base = strings.ToLower(op.method) + op.path
	}
	var b strings.Builder
	b.WriteString(doc)
	b.WriteByte('.')
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), "_")
	if len(name) > 60 {
		name = name[:60]
	}
	return name
}

// OperationPath is where an operation is: its method, its route template
// (base path + path) and its pointer in the document.
type OperationPath struct {
	Method, Template, Pointer string
}

// OperationPaths lists the operations' paths in document order.
func (d *Document) OperationPaths() []OperationPath {
	out := make([]OperationPath, len(d.ops))
	for i, op := range d.ops {
		out[i] = OperationPath{Method: op.method, Template: op.template, Pointer: op.where}
	}
	return out
}
