package openapi

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/route"
)

// Document is a loaded and compiled OpenAPI document. It is immutable and
// safe for concurrent use; a reload builds a new one.
type Document struct {
	cfg      Config
	version  string
	basePath string
	ops      []*operation
	router   *route.Router    // routes groups
	groups   [][]*operation   // operations by method and path shape, most specific first
	security []secRequirement // document-level
	schemes  map[string]*secScheme
	// queryCredentials are apiKey query parameters of security schemes:
	// never "unknown" query parameters.
	queryCredentials []string
	warnings         []*LoadError
}

type operation struct {
	method   string // upper case
	path     string // as in the document
	template string // route template (base path + path)
	key      pathKey
	id       string // operationId, or "METHOD /path"
	where    string // pointer of the operation, for messages
	params   []*param
	pathP    []*param
	query    []*param
	header   []*param
	cookie   []*param
	body     *requestBody
	resp     []*response // exact codes and ranges, in document order
	deflt    *response
	security []secRequirement
	secSet   bool // the operation has its own security (possibly [])
	owner    *Owner
}

type secRequirement []secItem // all of these (AND)

type secItem struct {
	scheme string
	scopes []string
}

type secScheme struct {
	typ  string // apiKey, http, oauth2, openIdConnect, mutualTLS
	in   string // apiKey: query, header, cookie
	name string // apiKey: parameter name
}

type param struct {
	name       string
	in         string // path, query, header, cookie
	required   bool
	style      string
	explode    bool
	s          *schema
	kind       paramKind
	scalar     typeMask            // possible types of the value (of each item for arrays)
	json       bool                // content: application/json: the value is a JSON text
	propTypes  map[string]typeMask // objects: possible types of each declared property
	open       bool                // objects: undeclared properties are possible
	addlTypes  typeMask            // objects: possible types of undeclared properties (string when none is declared)
	allowEmpty bool                // allowEmptyValue: an empty query value is not checked
	views      []*schema           // deepObject: {s}, as appendDeep takes it
}

type paramKind uint8

const (
	pScalar paramKind = iota
	pArray
	pObject
	pDeep // style deepObject: bracketed names, any schema
)

type requestBody struct {
	required bool
	media    []*media
	accept   string // declared media types, for Accept-Post/Accept-Patch
}

type mediaKind uint8

const (
	mOther mediaKind = iota
	mJSON
	mForm
	mMultipart
)

type media struct {
	typ    string // lower case, without parameters: "application/json", "image/*", "*/*"
	kind   mediaKind
	s      *schema // nil: any body
	fields map[string]*formField
}

// formField is a top-level property of a form or multipart body.
type formField struct {
	array  bool
	scalar typeMask
	sep    string    // non-exploded arrays: the separator of the items
	deep   bool      // encoding style deepObject: "name[key]" fields
	views  []*schema // the property's schemas, for deepObject
	// ctypes are the media ranges of the encoding's contentType: a
	// multipart part of this field must match one (nil: any).
	ctypes []partType
	accept string // ctypes as written, for problems
	// jsonOK: a value whose type is JSON is parsed as JSON (the property
	// admits more than strings, and is neither deepObject nor delimited).
	jsonOK bool
	// json: urlencoded values are JSON texts (contentType is JSON).
	json bool
}

// partType is one media range of an encoding's contentType.
type partType struct {
	typ  string // lower case: "image/png", "image/*", "*/*"
	json bool   // application/json or a +json type
}

type response struct {
	code  int // exact status, or 0
	class int // 2 for "2XX", or 0
	media []*media
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Load reads, resolves and compiles the document cfg.Spec names: a file
// path (relative to cfg.BaseDir) or an http(s) URL fetched with fetch (nil
// means a default client with a 30 s timeout). Everything each operation
// needs per request is compiled here. Errors are *LoadError values (joined
// when there are several) naming the document, the file and the JSON
// pointer of each problem.
func Load(ctx context.Context, cfg Config, fetch *http.Client) (*Document, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	l := &loader{ctx: ctx, cfg: &cfg, client: fetch, sources: map[string]*source{},
		schemas: map[string]*schema{}, ids: map[*source]*ids{}, maxBytes: cfg.maxSpecBytes()}
	root, err := l.openRoot()
	if err != nil {
		return nil, err
	}
	l.root = root
	d := l.document()
	if err := l.err(); err != nil {
		return nil, err
	}
	if l.unfetched {
		return nil, ErrOffline
	}
	return d, nil
}

// Reload loads cfg again. When the document cannot be fetched at all (a
// URL that is down, a missing file) and prev is a document loaded from the
// same spec, it returns prev together with the error, so the caller keeps
// serving the last good version and logs the error. A document that was
// fetched but is broken is an error without fallback, like any config error.
func Reload(ctx context.Context, cfg Config, fetch *http.Client, prev *Document) (*Document, error) {
	d, err := Load(ctx, cfg, fetch)
	if err == nil {
		return d, nil
	}
	var le *LoadError
	if prev != nil && prev.cfg.Spec == cfg.Spec && errors.As(err, &le) && le.Fetch {
		return prev, err
	}
	return nil, err
}

// Name returns the document's name under openapi:.
func (d *Document) Name() string { return d.cfg.Name }

// Version returns the document's "openapi" field.
func (d *Document) Version() string { return d.version }

// Config returns the configuration the document was loaded with.
func (d *Document) Config() Config { return d.cfg }

// Warnings lists what the document does that is legal and enforced, but
// probably not meant (duplicate required entries...), with its location.
func (d *Document) Warnings() []*LoadError { return d.warnings }

func (l *loader) document() *Document {
	rootLoc := loc{l.root, "", l.root.root}
	root := rootLoc.n
	d := &Document{cfg: *l.cfg, schemes: map[string]*secScheme{}}
	if root.kind != kMap {
		l.errorf(rootLoc, "the document is not an object")
		return nil
	}
	if root.has("swagger") {
		l.errorf(rootLoc.at("swagger"), "Swagger 2.0 documents are not supported; convert to OpenAPI 3 (FastAPI, drf-spectacular and apispec emit OpenAPI 3)")
		return nil
	}
	v := root.get("openapi")
	switch {
	case v == nil || v.kind != kStr:
		l.errorf(rootLoc, "not an OpenAPI document: the openapi field is missing")
		return nil
	case strings.HasPrefix(v.s, "3.0."):
	case strings.HasPrefix(v.s, "3.1."):
		l.v31 = true
	default:
		l.errorf(rootLoc.at("openapi"), "OpenAPI version %q is not supported (3.0.x and 3.1.x are)", v.s)
		return nil
	}
	d.version = v.s
	if dia := root.get("jsonSchemaDialect"); dia != nil && l.v31 && dia.s != "https://spec.openapis.org/oas/3.1/dialect/base" && dia.s != "https://json-schema.org/draft/2020-12/schema" {
		l.errorf(rootLoc.at("jsonSchemaDialect"), "JSON Schema dialect %q is not supported", dia.s)
	}
	d.basePath = l.basePath(rootLoc)
	l.securitySchemes(d, rootLoc.at("components").at("securitySchemes"))
	if sec := root.get("security"); sec != nil {
		d.security = l.securityList(d, rootLoc.at("security"))
	}
	paths := rootLoc.at("paths")
	if paths.n == nil {
		if !l.v31 {
			l.errorf(rootLoc, "paths is required")
		}
	} else if paths.n.kind != kMap {
		l.errorf(paths, "paths must be an object")
	} else {
		for i, p := range paths.n.keys {
			l.pathItem(d, loc{l.root, paths.ptr + "/" + ptrToken(p), paths.n.vals[i]}, p)
		}
	}
	l.finishSchemas()
	l.compileParams(d)
	// Path problems are listed with the others, not only once they are
	// the last ones.
	specs := l.routeGroups(d)
	if len(l.errs) > 0 {
		return nil
	}
	router, errs := route.New(specs)
	for _, e := range errs {
		var se *route.SpecError
		var oe *route.OverlapError
		switch {
		case errors.As(e, &se):
			op := d.groups[se.Index][0]
			l.errorf(loc{l.root, op.where, nil}, "path %q cannot be enforced: %s", op.path, strings.TrimPrefix(se.Msg, "route "))
		case errors.As(e, &oe):
			a, b := d.groups[oe.A][0], d.groups[oe.B][0]
			l.errorf(loc{l.root, b.where, nil}, "%s %s is ambiguous with %s %s (templated paths with the same shape)", b.method, b.path, a.method, a.path)
		default:
			l.errorf(loc{l.root, "/paths", nil}, "%v", e)
		}
	}
	d.router = router
	d.warnings = l.warns
	return d
}

// basePath is cfg.BasePath, or the path of the first server URL.
func (l *loader) basePath(root loc) string {
	bp := l.cfg.BasePath
	if bp == "" {
		servers := root.at("servers")
		if servers.n != nil && servers.n.kind == kSeq && len(servers.n.vals) > 0 {
			first := servers.idx(0)
			if u := first.n.get("url"); u != nil && u.kind == kStr {
				raw := u.s
				if vars := first.n.get("variables"); vars != nil && vars.kind == kMap {
					for i, name := range vars.keys {
						if def := vars.vals[i].get("default"); def != nil && def.kind == kStr {
							raw = strings.ReplaceAll(raw, "{"+name+"}", def.s)
						}
					}
				}
				pu, err := url.Parse(raw)
				if err != nil || strings.ContainsAny(raw, "{}") {
					l.errorf(first.at("url"), "server URL %q is not a URL (set base_path explicitly)", u.s)
					return ""
				}
				bp = pu.EscapedPath()
			}
		}
	}
	return strings.TrimRight(bp, "/")
}

func (l *loader) securitySchemes(d *Document, at loc) {
	if at.n == nil {
		return
	}
	if at.n.kind != kMap {
		l.errorf(at, "securitySchemes must be an object")
		return
	}
	for i, name := range at.n.keys {
		sl, ok := l.deref(loc{at.src, at.ptr + "/" + ptrToken(name), at.n.vals[i]})
		if !ok {
			continue
		}
		s := &secScheme{}
		if t := sl.n.get("type"); t != nil {
			s.typ = t.s
		}
		if in := sl.n.get("in"); in != nil {
			s.in = in.s
		}
		if n := sl.n.get("name"); n != nil {
			s.name = n.s
		}
		d.schemes[name] = s
		if s.typ == "apiKey" && s.in == "query" && s.name != "" {
			d.queryCredentials = append(d.queryCredentials, s.name)
		}
	}
}

func (l *loader) securityList(d *Document, at loc) []secRequirement {
	if at.n.kind != kSeq {
		l.errorf(at, "security must be an array")
		return nil
	}
	out := []secRequirement{}
	for i, req := range at.n.vals {
		rl := at.idx(i)
		if req.kind != kMap {
			l.errorf(rl, "a security requirement must be an object")
			continue
		}
		r := secRequirement{}
		for j, name := range req.keys {
			if d.schemes[name] == nil {
				l.errorf(rl.at(name), "security scheme %q is not defined in components.securitySchemes", name)
			}
			r = append(r, secItem{scheme: name, scopes: l.strings(loc{rl.src, rl.ptr + "/" + ptrToken(name), req.vals[j]})})
		}
		out = append(out, r)
	}
	return out
}

func (l *loader) pathItem(d *Document, at loc, path string) {
	if !strings.HasPrefix(path, "/") {
		l.errorf(at, "path %q must start with /", path)
		return
	}
	if at.n.has("$ref") {
		// OpenAPI leaves a path item with both a $ref and fields of its own
		// undefined: refuse rather than pick one.
		for _, k := range at.n.keys {
			if k == "parameters" || slices.Contains(methods, k) {
				l.errorf(at.at(k), "a path item with a $ref must not have its own %s (OpenAPI leaves the result undefined)", k)
			}
		}
	}
	item, ok := l.deref(at)
	if !ok {
		return
	}
	if item.n.kind != kMap {
		l.errorf(item, "a path item must be an object")
		return
	}
	shared := l.params(item.at("parameters"))
	key, msg := parsePathKey(d.basePath, path)
	if msg != "" {
		l.errorf(at, "path %q cannot be enforced: %s", path, msg)
		return
	}
	for _, m := range methods {
		if !item.n.has(m) {
			continue
		}
		// An operation may itself be a $ref (DigitalOcean's document keeps
		// each operation in its own file): OpenAPI does not list it among
		// the referenceable objects, but ignoring it would enforce an
		// operation without parameters or body.
		ol, ok := l.deref(item.at(m))
		if !ok {
			continue
		}
		if ol.n.kind != kMap {
			l.errorf(ol, "an operation must be an object")
			continue
		}
		// where is a pointer into the root document, whichever file the
		// path item and the operation come from.
		op := &operation{method: strings.ToUpper(m), path: path, template: key.template, key: key, where: at.ptr + "/" + m}
		if id := ol.n.get("operationId"); id != nil && id.kind == kStr {
			op.id = id.s
		} else {
			op.id = op.method + " " + path
		}
		own := l.params(ol.at("parameters"))
		op.params = mergeParams(shared, own)
		if rb := ol.at("requestBody"); rb.n != nil {
			op.body = l.requestBody(rb)
		}
		l.responses(op, ol.at("responses"))
		l.owner(op, ol.at("x-rampart-owner"))
		if sec := ol.at("security"); sec.n != nil {
			op.security, op.secSet = l.securityList(d, sec), true
		}
		d.ops = append(d.ops, op)
	}
}

// canonicalSegment percent-encodes a decoded literal segment the way
// pathnorm canonicalizes request paths: unreserved characters and
// sub-delims (but ';') plus ':' and '@' stay, everything else is %XX with
// upper-case hex.
func canonicalSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '!', c == '$', c == '&', c == '\'',
			c == '(', c == ')', c == '*', c == '+', c == ',', c == '=', c == ':', c == '@':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (l *loader) params(at loc) []*param {
	if at.n == nil {
		return nil
	}
	if at.n.kind != kSeq {
		l.errorf(at, "parameters must be an array")
		return nil
	}
	var out []*param
	for i := range at.n.vals {
		pl, ok := l.deref(at.idx(i))
		if !ok {
			continue
		}
		n := pl.n
		name, in := n.get("name"), n.get("in")
		if name == nil || name.kind != kStr || in == nil || in.kind != kStr {
			l.errorf(pl, "a parameter needs a name and an in")
			continue
		}
		p := &param{name: name.s, in: in.s}
		switch p.in {
		case "path", "query", "header", "cookie":
		default:
			l.errorf(pl.at("in"), "parameter location %q is not path, query, header or cookie", p.in)
			continue
		}
		if r := n.get("required"); r != nil && r.kind == kBool {
			p.required = r.s == "true"
		}
		if p.in == "path" {
			p.required = true
		}
		if p.in == "header" {
			p.name = http.CanonicalHeaderKey(p.name)
		}
		dup := false
		for _, o := range out {
			dup = dup || o.name == p.name && o.in == p.in
		}
		if dup {
			l.errorf(pl, "parameter %q in %s is declared twice", p.name, p.in)
			continue
		}
		l.compileParam(p, pl)
		l.paramKinds(p, pl)
		l.refsResolve(pl.at("examples"))
		out = append(out, p)
	}
	return out
}

// mergeParams overrides path-level parameters with operation-level ones of
// the same name and location.
func mergeParams(shared, own []*param) []*param {
	var out []*param
	for _, s := range shared {
		overridden := false
		for _, o := range own {
			if o.name == s.name && o.in == s.in {
				overridden = true
			}
		}
		if !overridden {
			out = append(out, s)
		}
	}
	return append(out, own...)
}

// compileParams sorts each operation's parameters by location.
func (l *loader) compileParams(d *Document) {
	for _, op := range d.ops {
		for _, p := range op.params {
			switch p.in {
			case "path":
				op.pathP = append(op.pathP, p)
			case "query":
				op.query = append(op.query, p)
			case "header":
				// Per OpenAPI, Accept, Content-Type and Authorization
				// header parameters are ignored (they are described
				// elsewhere); Rampart owns them.
				switch p.name {
				case "Accept", "Content-Type", "Authorization":
					continue
				}
				op.header = append(op.header, p)
			case "cookie":
				op.cookie = append(op.cookie, p)
			}
		}
	}
}

// compileParam compiles the schema-dependent parts of a parameter.
func (l *loader) compileParam(p *param, at loc) {
	n := at.n
	switch {
	case n.has("schema"):
		p.s = l.compileSchema(at.at("schema"))
	case n.has("content"):
		c := at.at("content")
		if c.n.kind != kMap || len(c.n.keys) != 1 {
			l.errorf(c, "content of a parameter must have exactly one media type")
			return
		}
		mt := strings.ToLower(c.n.keys[0])
		if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			l.errorf(c, "parameter content %q is not supported (only JSON)", c.n.keys[0])
			return
		}
		p.json = true
		p.s = l.compileSchema(c.at(c.n.keys[0]).at("schema"))
		return
	default:
		l.errorf(at, "a parameter needs a schema or a content")
		return
	}
	p.style = map[string]string{"path": "simple", "query": "form", "header": "simple", "cookie": "form"}[p.in]
	if st := n.get("style"); st != nil && st.kind == kStr {
		p.style = st.s
	}
	p.explode = p.style == "form"
	if ex := n.get("explode"); ex != nil && ex.kind == kBool {
		p.explode = ex.s == "true"
	}
}

// itemsOf finds the items schema of an array schema through $ref and
// composition.
func itemsOf(s *schema) *schema {
	for _, x := range collect(s) {
		if x.items != nil {
			return x.items
		}
	}
	return nil
}

// collect returns s and the schemas reachable through $ref, allOf, anyOf
// and oneOf (each once).
func collect(s *schema) []*schema {
	var out []*schema
	var walk func(*schema)
	walk = func(s *schema) {
		if s == nil {
			return
		}
		for _, x := range out {
			if x == s {
				return
			}
		}
		out = append(out, s)
		walk(s.ref)
		for _, list := range [][]*schema{s.allOf, s.anyOf, s.oneOf} {
			for _, b := range list {
				walk(b)
			}
		}
	}
	walk(s)
	return out
}

func (l *loader) requestBody(at loc) *requestBody {
	rl, ok := l.deref(at)
	if !ok {
		return nil
	}
	rb := &requestBody{}
	if r := rl.n.get("required"); r != nil && r.kind == kBool {
		rb.required = r.s == "true"
	}
	content := rl.at("content")
	if content.n == nil || content.n.kind != kMap {
		l.errorf(rl, "a request body needs a content object")
		return rb
	}
	var accept []string
	for i, mt := range content.n.keys {
		m := l.media(loc{content.src, content.ptr + "/" + ptrToken(mt), content.n.vals[i]}, mt)
		if m == nil {
			continue
		}
		rb.media = append(rb.media, m)
		accept = append(accept, m.typ)
		if m.kind == mForm || m.kind == mMultipart {
			l.formFields(m, loc{content.src, content.ptr + "/" + ptrToken(mt), content.n.vals[i]})
		}
	}
	rb.accept = strings.Join(accept, ", ")
	return rb
}

func (l *loader) media(at loc, name string) *media {
	mt, _, err := mime.ParseMediaType(name)
	if err != nil {
		l.errorf(at, "media type %q is malformed", name)
		return nil
	}
	m := &media{typ: mt}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json") && !strings.Contains(mt, "*"):
		m.kind = mJSON
	case mt == "application/x-www-form-urlencoded":
		m.kind = mForm
	case mt == "multipart/form-data":
		m.kind = mMultipart
	}
	if at.n != nil && at.n.kind == kMap && at.n.has("schema") {
		m.s = l.compileSchema(at.at("schema"))
	}
	l.refsResolve(at.at("examples"))
	return m
}

func (l *loader) responses(op *operation, at loc) {
	if at.n == nil {
		return // 3.1 allows operations without responses
	}
	if at.n.kind != kMap {
		l.errorf(at, "responses must be an object")
		return
	}
	for i, code := range at.n.keys {
		rl, ok := l.deref(loc{at.src, at.ptr + "/" + ptrToken(code), at.n.vals[i]})
		if !ok {
			continue
		}
		r := &response{}
		switch {
		case code == "default":
			op.deflt = r
		case len(code) == 3 && code[0] >= '1' && code[0] <= '5' && strings.ToUpper(code[1:]) == "XX":
			r.class = int(code[0] - '0')
			op.resp = append(op.resp, r)
		default:
			n, err := strconv.Atoi(code)
			if err != nil || n < 100 || n > 599 {
				l.errorf(rl, "response status %q is not a status code, a range (2XX) or default", code)
				continue
			}
			r.code = n
			op.resp = append(op.resp, r)
		}
		l.refsResolve(rl.at("headers"))
		if c := rl.at("content"); c.n != nil && c.n.kind == kMap {
			for j, mt := range c.n.keys {
				if m := l.media(loc{c.src, c.ptr + "/" + ptrToken(mt), c.n.vals[j]}, mt); m != nil {
					r.media = append(r.media, m)
				}
			}
		}
	}
}

// response returns the documented response for status: exact code, then
// range, then default; nil when the status is undocumented.
func (op *operation) response(status int) *response {
	for _, r := range op.resp {
		if r.code == status {
			return r
		}
	}
	for _, r := range op.resp {
		if r.class != 0 && r.class == status/100 {
			return r
		}
	}
	return op.deflt
}

// matchMedia finds the declared media type for a request or response
// media type (already lower-case, without parameters): exact, then
// "type/*", then "*/*".
func matchMedia(list []*media, mt string) *media {
	for _, m := range list {
		if m.typ == mt {
			return m
		}
	}
	major, _, _ := strings.Cut(mt, "/")
	for _, m := range list {
		if strings.HasSuffix(m.typ, "/*") && m.typ[:len(m.typ)-2] == major && major != "*" {
			return m
		}
	}
	for _, m := range list {
		if m.typ == "*/*" {
			return m
		}
	}
	return nil
}
