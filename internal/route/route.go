package route

import (
	"fmt"
	"github.com/rampart-gw/rampart/internal/framing"
	"math/bits"
	"slices"
	"strings"
	"sync"
)

// Spec is one route as configured.
type Spec struct {
	Host    string   // "" = any host; otherwise exact host name, compared case-insensitively, port ignored
	Methods []string // non-empty; case-sensitive method tokens (GET, POST, ...); HEAD is never implied
	Path    string   // template: "/", "/api/items", "/api/items/{id}", "/api/{kind}/{id}/notes", optional final "/{rest...}"
	// Deny makes a deny route: it wins over every other route that matches
	// the same request, whatever their precedence, and may overlap them.
	// Deny routes never contribute to a 405's Allow.
	Deny bool
}

// SpecError reports a malformed spec: bad path template, host or methods.
type SpecError struct {
	Index int // index of the spec in the slice given to New
	Msg   string
}

func (e *SpecError) Error() string { return fmt.Sprintf("route %d: %s", e.Index, e.Msg) }

// OverlapError reports two routes (A < B) that could match the same request
// with the same host and Method, with no precedence rule to choose between
// them.
type OverlapError struct {
	A, B   int
	Method string
}

func (e *OverlapError) Error() string {
	return fmt.Sprintf("route %d overlaps route %d for method %s: same host and equivalent path template", e.B, e.A, e.Method)
}

// MaxMethods is the maximum number of distinct method tokens in one Router.
const MaxMethods = 64

// Params holds the path parameters of a match without allocating: names
// come from the route's template, values are substrings of the matched path.
// A catch-all value is the rest of the path without its leading "/" and may
// contain "/" or be empty. The zero value is empty and ready to use.
type Params struct {
	n     int
	names [MaxParams]string
	vals  [MaxParams]string
}

// Get returns the value of the named parameter.
func (p *Params) Get(name string) (string, bool) {
	for i := 0; i < p.n; i++ {
		if p.names[i] == name {
			return p.vals[i], true
		}
	}
	return "", false
}

// Len returns the number of parameters.
func (p *Params) Len() int { return p.n }

// At returns the i-th parameter in template order; 0 <= i < Len().
func (p *Params) At(i int) (name, value string) {
	if i < 0 || i >= p.n {
		panic("route: Params.At index out of range")
	}
	return p.names[i], p.vals[i]
}

// Reset empties p.
func (p *Params) Reset() { p.n = 0 }

// Result is the outcome of Match.
type Result struct {
	Route  int    // matched route id (index into the specs given to New), -1 if none
	Status int    // 0 on match; 404 when no route's path matches; 405 when a path matches but no route allows the method
	Allow  string // on 405: the sorted union of the methods of the routes matching the path, e.g. "GET, HEAD, POST"
}

// Router is a compiled route table. It is immutable and safe for concurrent use.
type Router struct {
	table             // routes that are not deny routes
	deny   table      // deny routes, tried first
	names  [][]string // parameter names per route id
	allow  map[uint64]string
	method []string // method tokens by bit, sorted

	// lazy is only used when the precomputed Allow table was capped (configs
	// with many distinct custom methods); see buildAllow.
	lazyMu sync.Mutex
	lazy   map[uint64]string
}

// table is a set of routes that may not overlap one another.
type table struct {
	hosts map[string]*tree // host-specific routes, keyed by normalized host
	any   *tree            // host-less routes
}

type tree struct {
	root  node
	exact map[string]*leaf // routes without parameters, keyed by template path
}

type node struct {
	static   map[string]*node
	param    *node // "{name}" child; names are per route (see Router.names)
	catchAll *leaf // "{name...}" at this position
	end      *leaf // routes whose template ends at this node
}

type leaf struct {
	methods []methodRoute
	mask    uint64 // union of the bits of methods
}

type methodRoute struct {
	method string
	route  int
}

// New compiles specs; the index of a spec is its route id. On any problem it
// returns a nil Router and every problem found: *SpecError for malformed
// specs, in index order, then *OverlapError (A < B) for conflicting pairs
// among the well-formed specs. A route overlapping several earlier ones is
// reported against the first of them.
func New(specs []Spec) (*Router, []error) {
	var errs []error
	type compiled struct {
		host string
		tpl  template
	}
	cs := make([]*compiled, len(specs))
	methodSet := map[string]bool{}
	for i, s := range specs {
		bad := false
		fail := func(format string, args ...any) {
			errs = append(errs, &SpecError{Index: i, Msg: fmt.Sprintf(format, args...)})
			bad = true
		}
		host, msg := normalizeSpecHost(s.Host)
		if msg != "" {
			fail("%s", msg)
		}
		tpl, msg := parseTemplate(s.Path)
		if msg != "" {
			fail("%s", msg)
		}
		if len(s.Methods) == 0 {
			fail("no methods")
		}
		var fresh []string
		for j, m := range s.Methods {
			switch {
			case !framing.ValidToken(m):
				fail("invalid method %q (want an RFC 9110 token such as GET)", m)
			case slices.Contains(s.Methods[:j], m):
				fail("duplicate method %q", m)
			case !methodSet[m] && !slices.Contains(fresh, m):
				fresh = append(fresh, m)
			}
		}
		if !bad && len(methodSet)+len(fresh) > MaxMethods {
			fail("more than %d distinct methods across all routes", MaxMethods)
		}
		if bad {
			continue
		}
		for _, m := range fresh {
			methodSet[m] = true
		}
		cs[i] = &compiled{host: host, tpl: tpl}
	}

	r := &Router{
		table: table{hosts: map[string]*tree{}},
		deny:  table{hosts: map[string]*tree{}},
		names: make([][]string, len(specs)),
	}
	for m := range methodSet {
		r.method = append(r.method, m)
	}
	slices.Sort(r.method)
	bit := make(map[string]uint64, len(r.method))
	for i, m := range r.method {
		bit[m] = 1 << i
	}

	for i, c := range cs {
		if c == nil {
			continue
		}
		tb := &r.table
		if specs[i].Deny {
			tb = &r.deny
		}
		t := tb.any
		if c.host != "" {
			t = tb.hosts[c.host]
			if t == nil {
				t = newTree()
				tb.hosts[c.host] = t
			}
		} else if t == nil {
			t = newTree()
			tb.any = t
		}
		l := t.insert(specs[i].Path, &c.tpl)
		for _, m := range specs[i].Methods {
			if j := slices.IndexFunc(l.methods, func(mr methodRoute) bool { return mr.method == m }); j >= 0 {
				errs = append(errs, &OverlapError{A: l.methods[j].route, B: i, Method: m})
				continue
			}
			l.methods = append(l.methods, methodRoute{method: m, route: i})
			l.mask |= bit[m]
		}
		r.names[i] = c.tpl.names
	}
	if len(errs) > 0 {
		return nil, errs
	}
	r.buildAllow()
	return r, nil
}

func newTree() *tree { return &tree{exact: map[string]*leaf{}} }

// insert adds the template's node path and returns its leaf.
func (t *tree) insert(path string, tpl *template) *leaf {
	n := &t.root
	for _, s := range tpl.segs {
		switch s.kind {
		case segLiteral:
			c := n.static[s.lit]
			if c == nil {
				if n.static == nil {
					n.static = map[string]*node{}
				}
				c = &node{}
				n.static[s.lit] = c
			}
			n = c
		case segParam:
			if n.param == nil {
				n.param = &node{}
			}
			n = n.param
		case segCatchAll: // always the last segment (checked by parseTemplate)
			if n.catchAll == nil {
				n.catchAll = &leaf{}
			}
			return n.catchAll
		}
	}
	if n.end == nil {
		n.end = &leaf{}
		if tpl.static() {
			t.exact[path] = n.end
		}
	}
	return n.end
}

// allowCap bounds the precomputed Allow table. It is only reached by
// configurations with more than 12 distinct method tokens combined in many
// ways; Match then builds missing entries once, under a mutex.
const allowCap = 1 << 12

// buildAllow precomputes the Allow header for every union of leaf method
// sets that can occur within one tree (a superset of the unions Match can
// produce, since only leaves of the same tree are ever combined).
func (r *Router) buildAllow() {
	r.allow = map[uint64]string{}
	trees := make([]*tree, 0, len(r.hosts)+1)
	if r.any != nil {
		trees = append(trees, r.any)
	}
	for _, t := range r.hosts {
		trees = append(trees, t)
	}
	for _, t := range trees {
		var masks []uint64
		t.root.walk(func(l *leaf) {
			if !slices.Contains(masks, l.mask) {
				masks = append(masks, l.mask)
			}
		})
		closure := map[uint64]struct{}{}
		for _, m := range masks {
			add := []uint64{m}
			for x := range closure {
				add = append(add, x|m)
			}
			for _, a := range add {
				closure[a] = struct{}{}
			}
			if len(closure)+len(r.allow) > allowCap {
				break
			}
		}
		for m := range closure {
			if len(r.allow) >= allowCap {
				return
			}
			r.allow[m] = r.allowString(m)
		}
	}
}

func (n *node) walk(f func(*leaf)) {
	if n.end != nil {
		f(n.end)
	}
	if n.catchAll != nil {
		f(n.catchAll)
	}
	if n.param != nil {
		n.param.walk(f)
	}
	for _, c := range n.static {
		c.walk(f)
	}
}

func (r *Router) allowString(mask uint64) string {
	var b strings.Builder
	for mask != 0 {
		i := bits.TrailingZeros64(mask)
		mask &^= 1 << i
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.method[i])
	}
	return b.String()
}

// allowFor returns the precomputed Allow value for mask.
func (r *Router) allowFor(mask uint64) string {
	if s, ok := r.allow[mask]; ok {
		return s
	}
	r.lazyMu.Lock()
	defer r.lazyMu.Unlock()
	s, ok := r.lazy[mask]
	if !ok {
		if r.lazy == nil {
			r.lazy = map[uint64]string{}
		}
		s = r.allowString(mask)
		r.lazy[mask] = s
	}
	return s
}

// Match routes a request. host is the request's Host (a port is ignored),
// method is case-sensitive, path must be canonical (see package doc). p may
// be nil; otherwise it is reset and, on a match, filled with the route's
// parameters. A deny route that matches wins over every other route.
func (r *Router) Match(host, method, path string, p *Params) Result {
	if p != nil {
		p.n = 0
	}
	if path == "" || path[0] != '/' {
		return Result{Route: -1, Status: 404}
	}
	if r.deny.any != nil || len(r.deny.hosts) > 0 {
		if res := r.match(&r.deny, host, method, path, p); res.Status == 0 {
			return res
		}
	}
	return r.match(&r.table, host, method, path, p)
}

func (r *Router) match(tb *table, host, method, path string, p *Params) Result {
	if t := tb.hostTree(host); t != nil {
		if res := r.matchTree(t, method, path, p); res.Status != 404 {
			return res
		}
	}
	if tb.any != nil {
		return r.matchTree(tb.any, method, path, p)
	}
	return Result{Route: -1, Status: 404}
}

func (r *Router) matchTree(t *tree, method, path string, p *Params) Result {
	// Fast path: an all-literal template equal to the path has the highest
	// precedence of all; if it lists the method, nothing can beat it.
	if l := t.exact[path]; l != nil {
		for _, mr := range l.methods {
			if mr.method == method {
				return Result{Route: mr.route}
			}
		}
	}
	m := matcher{path: path, method: method, route: -1}
	if !m.walk(&t.root, 1, 0) {
		if m.mask == 0 {
			return Result{Route: -1, Status: 404}
		}
		return Result{Route: -1, Status: 405, Allow: r.allowFor(m.mask)}
	}
	if p != nil {
		p.n = copy(p.names[:], r.names[m.route])
		copy(p.vals[:p.n], m.vals[:p.n])
	}
	return Result{Route: m.route}
}

// matcher is the state of one depth-first trie walk. Children are tried in
// precedence order (literal, param, catch-all), so the first leaf that lists
// the method is the answer; leaves that match the path but not the method
// contribute their methods to mask for a 405. The matcher lives on the stack
// of matchTree and keeps captured values in itself rather than writing
// through a pointer to other memory, so escape analysis keeps it off the heap.
type matcher struct {
	path, method string
	vals         [MaxParams]string // captured values by parameter position
	route        int
	mask         uint64
}

// walk matches the segment starting at path[i] (path[i-1] == '/') against
// the children of n; np parameters have been captured so far.
func (m *matcher) walk(n *node, i, np int) bool {
	j := strings.IndexByte(m.path[i:], '/')
	last := j < 0
	if last {
		j = len(m.path)
	} else {
		j += i
	}
	seg := m.path[i:j]
	if c := n.static[seg]; c != nil {
		if last {
			if m.end(c, np) {
				return true
			}
		} else if m.walk(c, j+1, np) {
			return true
		}
	}
	if c := n.param; c != nil && seg != "" {
		m.vals[np] = seg
		if last {
			if m.end(c, np+1) {
				return true
			}
		} else if m.walk(c, j+1, np+1) {
			return true
		}
	}
	if n.catchAll != nil {
		m.vals[np] = m.path[i:]
		return m.leaf(n.catchAll)
	}
	return false
}

// end handles a path that is fully consumed at node n: routes ending here,
// then a catch-all with an empty rest ("/files" matches "/files/{rest...}").
func (m *matcher) end(n *node, np int) bool {
	if n.end != nil && m.leaf(n.end) {
		return true
	}
	if n.catchAll != nil {
		m.vals[np] = m.path[len(m.path):]
		return m.leaf(n.catchAll)
	}
	return false
}

func (m *matcher) leaf(l *leaf) bool {
	for _, mr := range l.methods {
		if mr.method == m.method {
			m.route = mr.route
			return true
		}
	}
	m.mask |= l.mask
	return false
}
