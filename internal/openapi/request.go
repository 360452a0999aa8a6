package openapi

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/rampart-gw/rampart/internal/framing"
	"github.com/rampart-gw/rampart/internal/openapi/strictjson"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/route"
	"github.com/rampart-gw/rampart/internal/spool"
)

// Problem types (pipeline.Rejection.Type, and so the audit reason).
const (
	TypeRequestInvalid       = "request-invalid"          // 400
	TypeUnsupportedMediaType = "unsupported-media-type"   // 415
	TypeUndocumented         = "operation-not-documented" // 404
	TypeMethodNotAllowed     = "method-not-allowed"       // 405, as the router's
	TypeResponseInvalid      = "response-not-conforming"  // 502 (filter_responses: reject)
)

// Step is the step name reported to the pipeline.Observer.
const Step = "openapi"

// ValidationError is the Err of a request-invalid Rejection: every problem
// found (up to 10), for the logs or a richer problem body.
type ValidationError struct {
	Problems []Problem
	Total    int // problems found, including those not recorded
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("request does not match the API contract: ")
	e.write(&b)
	return b.String()
}

func (e *ValidationError) write(b *strings.Builder) {
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Pointer)
		b.WriteString(": ")
		b.WriteString(p.Reason)
	}
	if more := e.Total - len(e.Problems); more > 0 {
		b.WriteString("; and ")
		b.WriteString(itoa(more))
		b.WriteString(" more")
	}
}

// Pointers returns the pointers of the problems, for an "errors" extension.
func (e *ValidationError) Pointers() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Pointer
	}
	return out
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// Deps are the enforcement middleware's collaborators.
type Deps struct {
	// Observer is told about every rejection: request-invalid (400),
	// unsupported-media-type (415), operation-not-documented (404),
	// method-not-allowed (405), response-not-conforming (502).
	Observer pipeline.Observer
	// OnResponse, when set, is told what response filtering did whenever it
	// did something or could not (undeclared field names, oversized
	// bodies); see ResponseEvent. It runs on the request goroutine.
	OnResponse func(r *http.Request, ev ResponseEvent)
}

// Middleware returns the document's enforcement step for routes that name
// it. It matches the operation from the routed path (pipeline.Info.Path)
// and the method, then, as configured: refuses undocumented operations
// (reject_undocumented), validates the request (validate_requests), and
// filters the response (filter_responses). It must run after the body has
// been buffered and right before the proxy, so that the response it
// filters is the upstream's. Build it once per route at load.
func (d *Document) Middleware(deps Deps) pipeline.Middleware {
	return func(next http.Handler) http.Handler {
		return &enforcer{d: d, next: next, deps: deps, filter: d.cfg.filter(),
			allowUnknown: d.cfg.UnknownFields == "allow", maxDepth: d.cfg.maxDepth()}
	}
}

type enforcer struct {
	d            *Document
	next         http.Handler
	deps         Deps
	filter       string
	allowUnknown bool
	maxDepth     int
}

// state is the per-request scratch space, pooled.
type state struct {
	c       checker
	doc     strictjson.Doc
	pdoc    strictjson.Doc
	body    []byte
	buf     []byte
	qvals   [][]string
	qnames  [][]string   // form-exploded objects: property names, parallel to qvals
	qdeep   []*deepValue // deepObject parameters present in the query
	flagBuf []uint8
	path    []byte    // stripper
	views   []*schema // stripper
	segs    [][]byte  // stripper
}

var statePool = sync.Pool{New: func() any { return &state{} }}

func getState() *state { return statePool.Get().(*state) }

func putState(st *state) {
	st.doc.Reset()
	st.pdoc.Reset()
	if cap(st.body) > 1<<20 {
		st.body = nil
	}
	st.body = st.body[:0]
	for i := range st.c.path {
		st.c.path[i] = seg{}
	}
	for i := range st.c.hashes {
		st.c.hashes[i] = hashed{}
	}
	clear(st.segs[:cap(st.segs)])
	statePool.Put(st)
}

func (e *enforcer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := ""
	if info := pipeline.InfoFrom(r.Context()); info != nil {
		path = info.Path
	}
	if path == "" {
		path = r.URL.EscapedPath()
	}
	var vals [route.MaxParams]string
	op, res := e.match(r.Method, path, r.URL.RawQuery, vals[:])
	if op == nil {
		if !e.d.cfg.RejectUndocumented {
			e.next.ServeHTTP(w, r)
			return
		}
		rej := pipeline.Reject(http.StatusNotFound, TypeUndocumented, "The API does not document this operation.")
		if res.Status == http.StatusMethodNotAllowed {
			rej = pipeline.Reject(http.StatusMethodNotAllowed, TypeMethodNotAllowed, "The API does not document this method for this path.")
			rej.Header = http.Header{"Allow": {res.Allow}}
		}
		pipeline.Refuse(w, r, Step, e.deps.Observer, rej)
		return
	}
	if e.d.cfg.ValidateRequests {
		if rej := e.validate(r, op, vals[:]); rej != nil {
			pipeline.Refuse(w, r, Step, e.deps.Observer, rej)
			return
		}
	}
	if e.filter == "" || r.Method == http.MethodHead {
		e.next.ServeHTTP(w, r)
		return
	}
	e.serveFiltered(w, r, op)
}

// validate checks parameters and body; path holds the path parameter values
// (parallel to op.key.segs). On success r.Body is an equivalent, unread body
// for the upstream.
func (e *enforcer) validate(r *http.Request, op *operation, path []string) *pipeline.Rejection {
	st := getState()
	defer putState(st)
	c := &st.c
	c.reset(modeRequest, e.allowUnknown)
	e.checkParams(st, r, op, path)
	if rej := e.checkBody(st, r, op); rej != nil {
		return rej
	}
	if c.total > 0 {
		return invalid(c)
	}
	return nil
}

func invalid(c *checker) *pipeline.Rejection {
	ve := &ValidationError{Problems: append([]Problem(nil), c.problems...), Total: c.total}
	var b strings.Builder
	b.WriteString("The request does not match the API contract: ")
	ve.write(&b)
	b.WriteString(".")
	fields := make([]pipeline.FieldError, len(ve.Problems))
	for i, p := range ve.Problems {
		fields[i] = pipeline.FieldError{Pointer: p.Pointer, Detail: p.Reason}
	}
	return &pipeline.Rejection{Status: http.StatusBadRequest, Type: TypeRequestInvalid, Detail: b.String(), Fields: fields, Err: ve}
}

func unsupported(op *operation, r *http.Request, detail string) *pipeline.Rejection {
	rej := pipeline.Reject(http.StatusUnsupportedMediaType, TypeUnsupportedMediaType, detail)
	if op.body != nil && op.body.accept != "" {
		switch r.Method {
		case http.MethodPost:
			rej.Header = http.Header{"Accept-Post": {op.body.accept}}
		case http.MethodPatch:
			rej.Header = http.Header{"Accept-Patch": {op.body.accept}}
		}
	}
	return rej
}

// problemAt records a problem at an explicit pointer.
func (c *checker) problemAt(ptr, reason string) {
	if len(ptr) > maxPointer {
		ptr = strings.ToValidUTF8(ptr[:maxPointer], "") + "…"
	}
	c.total++
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, Problem{Pointer: ptr, Reason: reason})
	}
}

// ---- parameters -------------------------------------------------------------

func (e *enforcer) checkParams(st *state, r *http.Request, op *operation, path []string) {
	c := &st.c
	e.checkPath(st, op, path)
	if len(op.query) > 0 || r.URL.RawQuery != "" {
		e.checkQuery(st, r, op)
	}
	for _, p := range op.header {
		vals := r.Header[p.name]
		if len(vals) == 0 {
			if p.required {
				c.problemAt("/header/"+p.name, "required header is missing")
			}
			continue
		}
		if p.kind == pArray && len(vals) > 1 {
			vals = []string{strings.Join(vals, ",")} // RFC 9110 §5.3: a list may be split over lines
		}
		if len(vals) > 1 {
			c.problemAt("/header/"+p.name, "header must not be repeated")
			continue
		}
		vals, names, _ := splitValue(p, vals[0], ",", false)
		if p.kind == pArray {
			for i := range vals {
				vals[i] = strings.TrimSpace(vals[i])
			}
		}
		e.checkParam(st, p, "/header/", vals, names)
	}
	if len(op.cookie) > 0 {
		cookies := r.Cookies()
		for _, p := range op.cookie {
			var vals []string
			for _, ck := range cookies {
				if ck.Name == p.name {
					vals = append(vals, ck.Value)
				}
			}
			switch {
			case len(vals) == 0:
				if p.required {
					c.problemAt("/cookie/"+p.name, "required cookie is missing")
				}
				continue
			case len(vals) > 1:
				c.problemAt("/cookie/"+p.name, "cookie must not be repeated")
				continue
			}
			vals, names, _ := splitValue(p, vals[0], ",", false)
			e.checkParam(st, p, "/cookie/", vals, names)
		}
	}
}

// checkPath checks the path parameters the path key names (a declared
// parameter the key does not name has nothing to check).
func (e *enforcer) checkPath(st *state, op *operation, path []string) {
	for i := range op.key.segs {
		p := op.pathParam(i)
		if p == nil {
			continue
		}
		raw := path[i]
		if p.style == "label" {
			if !strings.HasPrefix(raw, ".") {
				st.c.problemAt("/path/"+p.name, "label-style value must start with '.'")
				continue
			}
			raw = raw[1:]
		}
		sep := ","
		if p.style == "label" && p.explode {
			sep = "."
		}
		// Split before unescaping: an escaped separator is part of an item.
		vals, names, ok := splitValue(p, raw, sep, true)
		if !ok {
			st.c.problemAt("/path/"+p.name, "malformed percent-encoding or name=value list")
			continue
		}
		e.checkParam(st, p, "/path/", vals, names)
	}
}

// splitValue splits one parameter value into the items of an array or the
// names and values of an object (sep between items; exploded objects are
// "k=v" items, others alternate names and values), unescaping each part
// when escaped. A scalar is the whole value.
func splitValue(p *param, v, sep string, escaped bool) (vals, names []string, ok bool) {
	unescape := func(s string) (string, bool) {
		if !escaped {
			return s, true
		}
		u, err := url.PathUnescape(s)
		return u, err == nil && utf8.ValidString(u)
	}
	if p.kind != pArray && p.kind != pObject || p.json {
		u, ok := unescape(v)
		return []string{u}, nil, ok
	}
	parts := strings.Split(v, sep)
	if p.kind == pArray {
		for i, s := range parts {
			if parts[i], ok = unescape(s); !ok {
				return nil, nil, false
			}
		}
		return parts, nil, true
	}
	if !p.explode { // name,value,name,value
		if len(parts)%2 != 0 {
			return nil, nil, false
		}
		for i := 0; i < len(parts); i += 2 {
			k, ok1 := unescape(parts[i])
			val, ok2 := unescape(parts[i+1])
			if !ok1 || !ok2 {
				return nil, nil, false
			}
			names, vals = append(names, k), append(vals, val)
		}
		return vals, names, true
	}
	for _, s := range parts {
		k, val, found := strings.Cut(s, "=")
		uk, ok1 := unescape(k)
		uv, ok2 := unescape(val)
		if !found || !ok1 || !ok2 {
			return nil, nil, false
		}
		names, vals = append(names, uk), append(vals, uv)
	}
	return vals, names, true
}

// checkQuery splits the query once (pathnorm has already refused ';'
// separators, bad escapes and control bytes) and checks every parameter.
// Repeating a parameter that is not an array is refused: frameworks
// disagree on whether the first or the last value wins (HTTP parameter
// pollution).
func (e *enforcer) checkQuery(st *state, r *http.Request, op *operation) {
	c := &st.c
	n := len(op.query)
	st.qvals, st.qnames = grow(st.qvals, n), grow(st.qnames, n)
	if cap(st.qdeep) < n {
		st.qdeep = make([]*deepValue, n)
	}
	st.qdeep = st.qdeep[:n]
	clear(st.qdeep)
	raw := r.URL.RawQuery
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		// A raw ';' is refused, as url.ParseQuery does: frameworks that
		// still split pairs on it would see fields this check did not.
		if strings.IndexByte(pair, ';') >= 0 {
			c.problemAt("/body", "malformed form body")
			return
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil || !utf8.ValidString(key) || !utf8.ValidString(val) {
			c.problemAt("/query", "malformed query string")
			return
		}
		if v, ok := op.queryConst(key); ok {
			if val != v {
				c.problemAt("/query/"+string(appendToken(nil, []byte(key))), "must be "+strconv.Quote(v)+" (the path key fixes it)")
			}
			continue
		}
		i := queryParam(op, key)
		if i >= 0 && op.query[i].kind == pObject && op.query[i].name != key && e.isCredential(key) {
			i = -1 // a security scheme's credential, not a property of an exploded object
		}
		if i < 0 {
			if !e.allowUnknown && !e.isCredential(key) {
				c.problemAt("/query/"+string(appendToken(nil, []byte(key))), "unknown query parameter")
			}
			continue
		}
		switch p := op.query[i]; p.kind {
		case pDeep:
			if st.qdeep[i] == nil {
				st.qdeep[i] = &deepValue{}
			}
			_, rest := deepField(key)
			if reason := st.qdeep[i].insert(rest, val, e.maxDepth); reason != "" {
				c.problemAt(deepPointer("/query", key), reason)
			}
		case pObject:
			if p.explode {
				st.qnames[i] = append(st.qnames[i], key)
			}
			st.qvals[i] = append(st.qvals[i], val)
		default:
			st.qvals[i] = append(st.qvals[i], val)
		}
	}
	for i, p := range op.query {
		vals, names := st.qvals[i], st.qnames[i]
		switch {
		case p.kind == pDeep && st.qdeep[i] != nil:
			c.prefix = "/query/" + string(appendToken(nil, []byte(p.name)))
			st.buf = appendDeep(st.buf[:0], st.qdeep[i], p.views)
			e.checkRendered(st, p)
			continue
		case len(vals) == 0:
			if p.required {
				c.problemAt("/query/"+p.name, "required query parameter is missing")
			}
			continue
		case p.allowEmpty && len(vals) == 1 && vals[0] == "":
			continue // allowEmptyValue: "?name=" is the parameter, present and empty
		case p.kind == pScalar && len(vals) > 1, p.kind == pObject && !p.explode && len(vals) > 1,
			p.kind == pArray && !p.explode && len(vals) > 1:
			c.problemAt("/query/"+p.name, "query parameter must not be repeated")
			continue
		case p.kind == pArray && !p.explode, p.kind == pObject && !p.explode:
			var ok bool
			if vals, names, ok = splitValue(p, vals[0], separator(p.style), false); !ok {
				c.problemAt("/query/"+p.name, "malformed name,value list")
				continue
			}
		}
		e.checkParam(st, p, "/query/", vals, names)
	}
}

// queryParam finds the parameter a query name belongs to: a parameter of
// that name, a deepObject parameter for "name[...]", or else a form-exploded
// object parameter that declares (or admits) a property of that name.
func queryParam(op *operation, key string) int {
	base, _ := deepField(key)
	for j, p := range op.query {
		if p.kind == pDeep && p.name == base || p.kind != pDeep && p.name == key {
			return j
		}
	}
	for j, p := range op.query {
		if p.kind == pObject && p.explode {
			if _, ok := p.propTypes[key]; ok || p.open {
				return j
			}
		}
	}
	return -1
}

func grow(s [][]string, n int) [][]string {
	if cap(s) < n {
		s = make([][]string, n)
	}
	s = s[:n]
	for i := range s {
		s[i] = s[i][:0]
	}
	return s
}

func (e *enforcer) isCredential(name string) bool {
	for _, q := range e.d.queryCredentials {
		if q == name {
			return true
		}
	}
	return false
}

// checkParam renders the parameter's values as the JSON value the schema
// describes (reading "7" as a number only where the schema allows numbers),
// parses it with the strict parser and validates it.
func (e *enforcer) checkParam(st *state, p *param, where string, vals, names []string) {
	b := st.buf[:0]
	switch {
	case p.json:
		b = append(b, vals[0]...)
	case p.kind == pArray:
		b = append(b, '[')
		for i, v := range vals {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendScalar(b, p.scalar, v)
		}
		b = append(b, ']')
	case p.kind == pObject:
		b = append(b, '{')
		for i, v := range vals {
			if i > 0 {
				b = append(b, ',')
			}
			b = strictjson.AppendString(b, names[i])
			b = append(b, ':')
			t, ok := p.propTypes[names[i]]
			if !ok {
				t = p.addlTypes
			}
			b = appendScalar(b, t, v)
		}
		b = append(b, '}')
	default:
		b = appendScalar(b, p.scalar, vals[0])
	}
	st.buf = b
	st.c.prefix = where + string(appendToken(nil, []byte(p.name)))
	e.checkRendered(st, p)
}

// checkRendered parses the JSON rendering of a parameter (st.buf) and
// validates it against the parameter's schema, at st.c.prefix.
func (e *enforcer) checkRendered(st *state, p *param) {
	c := &st.c
	if err := st.pdoc.Parse(st.buf, strictjson.Options{MaxDepth: e.maxDepth}); err != nil {
		var se *strictjson.Error
		reason := "malformed value"
		if errors.As(err, &se) {
			if se.Reason == strictjson.ReasonDuplicateKey && p.kind != pScalar {
				reason = "repeated property"
			} else {
				reason = se.Reason.String()
			}
			c.problemAt(c.prefix+se.Pointer, reason)
		} else {
			c.problemAt(c.prefix, reason)
		}
		c.prefix = ""
		return
	}
	c.checkOwned(p.s, st.pdoc.Root())
	c.prefix = ""
}

// appendScalar writes a parameter string as JSON: a number or boolean when
// the schema admits one and the text is exactly one, a string otherwise.
func appendScalar(b []byte, t typeMask, v string) []byte {
	if t&(tNum|tInt) != 0 && isJSONNumber(v) {
		return append(b, v...)
	}
	if t&tBool != 0 && (v == "true" || v == "false") {
		return append(b, v...)
	}
	if t&tNull != 0 && t&tStr == 0 && v == "null" {
		return append(b, v...)
	}
	return strictjson.AppendString(b, v)
}

// isJSONNumber reports whether s is exactly an RFC 8259 number.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

// ---- bodies -----------------------------------------------------------------

// maxUnbufferedBody caps what validate reads when the gateway did not buffer
// the body (GetBody is nil); behind the gateway server.max_body_bytes applies.
const maxUnbufferedBody = 32 << 20

func (e *enforcer) checkBody(st *state, r *http.Request, op *operation) *pipeline.Rejection {
	c := &st.c
	body, rej := readBody(st, r)
	if rej != nil {
		return rej
	}
	cts := r.Header["Content-Type"]
	if len(body) == 0 {
		if op.body != nil && op.body.required {
			c.problemAt("/body", "the request body is required")
		}
		return nil
	}
	if op.body == nil || len(op.body.media) == 0 {
		return unsupported(op, r, "This operation does not take a request body.")
	}
	if len(cts) != 1 {
		return unsupported(op, r, "The request body needs exactly one Content-Type header.")
	}
	mt, ps, err := requestMediaType(cts[0])
	if err != nil {
		return unsupported(op, r, "The Content-Type header is malformed.")
	}
	m := matchMedia(op.body.media, mt)
	if m == nil {
		return unsupported(op, r, "The operation does not accept this Content-Type; it accepts "+op.body.accept+".")
	}
	switch m.kind {
	case mJSON:
		if cs, ok := ps["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return unsupported(op, r, "JSON bodies must be UTF-8.")
		}
		c.prefix = "/body"
		if err := st.doc.Parse(body, strictjson.Options{MaxDepth: e.maxDepth}); err != nil {
			var se *strictjson.Error
			if errors.As(err, &se) {
				c.problemAt("/body"+se.Pointer, se.Reason.String())
			} else {
				c.problemAt("/body", "malformed JSON")
			}
			return nil
		}
		c.checkOwned(m.s, st.doc.Root())
	case mForm:
		e.checkForm(st, m, body)
	case mMultipart:
		if rej := e.checkMultipart(st, op, r, m, ps["boundary"], body); rej != nil {
			return rej
		}
	}
	c.prefix = ""
	return nil
}

// requestMediaType is mime.ParseMediaType without its parameter map for the
// common parameterless case ("application/json"), which it checks as
// strictly: type "/" subtype, both RFC 9110 tokens.
func requestMediaType(ct string) (string, map[string]string, error) {
	if strings.IndexByte(ct, ';') >= 0 {
		return mime.ParseMediaType(ct)
	}
	ct = strings.TrimSpace(ct)
	slash := strings.IndexByte(ct, '/')
	if slash <= 0 || slash == len(ct)-1 || strings.IndexByte(ct[slash+1:], '/') >= 0 {
		return "", nil, errMediaType
	}
	upper := false
	for i := 0; i < len(ct); i++ {
		c := ct[i]
		if i != slash && !framing.IsTokenChar(c) {
			return "", nil, errMediaType
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if upper {
		ct = strings.ToLower(ct)
	}
	return ct, nil, nil
}

var errMediaType = errors.New("malformed media type")

// readBody returns the request body: the gateway's buffer itself when it is
// in memory (the gateway keeps validated bodies there), leaving r.Body
// unread for the upstream; otherwise it reads the (buffered) body and puts
// back an equivalent one.
func readBody(st *state, r *http.Request) ([]byte, *pipeline.Rejection) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if sr, ok := r.Body.(*spool.Reader); ok {
		if b, ok := sr.Buffer().Bytes(); ok {
			return b, nil
		}
	}
	var err error
	if r.GetBody != nil {
		st.body, err = readAll(st.body[:0], r.Body, -1)
		if err == nil {
			var rc io.ReadCloser
			if rc, err = r.GetBody(); err == nil {
				r.Body = rc
			}
		}
	} else {
		var b []byte
		b, err = readAll(nil, r.Body, maxUnbufferedBody)
		if err == nil {
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
			r.ContentLength = int64(len(b))
			st.body = b
		}
	}
	if err != nil {
		rej := pipeline.Reject(http.StatusBadRequest, TypeRequestInvalid, "The request body could not be read.")
		rej.Err = err
		if errors.Is(err, errBodyTooLarge) {
			rej.Status, rej.Type = http.StatusRequestEntityTooLarge, "body-too-large"
			rej.Detail, rej.Close = "The request body is larger than this gateway accepts.", true
		}
		return nil, rej
	}
	return st.body, nil
}

var errBodyTooLarge = errors.New("request body too large")

func readAll(b []byte, r io.Reader, limit int) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if limit >= 0 && len(b) > limit {
			return nil, errBodyTooLarge
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// checkForm reads an application/x-www-form-urlencoded body into the JSON
// object its schema describes and validates it like a JSON body.
func (e *enforcer) checkForm(st *state, m *media, body []byte) {
	c := &st.c
	var fields []formValue
	n := 0
	for raw := string(body); raw != ""; {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		if n++; n > maxParts {
			c.problemAt("/body", "too many form fields")
			return
		}
		// A raw ';' is refused, as url.ParseQuery does: frameworks that
		// still split pairs on it would see fields this check did not.
		if strings.IndexByte(pair, ';') >= 0 {
			c.problemAt("/body", "malformed form body")
			return
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil || !utf8.ValidString(key) || !utf8.ValidString(val) {
			c.problemAt("/body", "malformed form body")
			return
		}
		ff := m.field(key)
		fields = e.addField(c, m, fields, key, val, false, ff != nil && ff.json)
	}
	e.checkFields(st, m, fields)
}

type formValue struct {
	name string
	vals []string
	file bool
	deep *deepValue // a deepObject field's bracketed names
	json []bool     // which vals are JSON texts (nil: none)
}

// field returns the compiled field a form key belongs to ("name", or
// "name[key]" of a deepObject field), or nil.
func (m *media) field(key string) *formField {
	if f := m.fields[key]; f != nil {
		return f
	}
	if name, _ := deepField(key); name != key {
		if f := m.fields[name]; f != nil && f.deep {
			return f
		}
	}
	return nil
}

// addField adds one form field; "name[key]" belongs to field name when its
// encoding is deepObject (else it is a field of that literal name).
// A JSON value (isJSON) is kept even from a file part.
func (e *enforcer) addField(c *checker, m *media, fields []formValue, key, val string, file, isJSON bool) []formValue {
	name, rest := deepField(key)
	if f := m.fields[name]; f == nil || !f.deep {
		name, rest = key, ""
	}
	i := slices.IndexFunc(fields, func(f formValue) bool { return f.name == name })
	if i < 0 {
		i = len(fields)
		fields = append(fields, formValue{name: name})
		if f := m.fields[name]; f != nil && f.deep {
			fields[i].deep = &deepValue{}
		}
	}
	f := &fields[i]
	f.file = f.file || file
	if file && !isJSON {
		val = ""
	}
	if f.deep == nil {
		if isJSON && f.json == nil {
			f.json = make([]bool, len(f.vals), len(f.vals)+1)
		}
		if f.json != nil {
			f.json = append(f.json, isJSON)
		}
		f.vals = append(f.vals, val)
	} else if reason := f.deep.insert(rest, val, e.maxDepth); reason != "" {
		c.problemAt(deepPointer("/body", key), reason)
	}
	return fields
}

// checkFields renders form fields as a JSON object (arrays for array
// properties, numbers and booleans where the property admits them, file
// parts as a placeholder string, deepObject fields as the value their
// bracketed names describe) and validates it against the body schema.
func (e *enforcer) checkFields(st *state, m *media, fields []formValue) {
	c := &st.c
	b := append(st.buf[:0], '{')
	for _, f := range fields {
		ff := m.fields[f.name]
		if ff == nil {
			ff = &formField{scalar: tStr}
		}
		vals := f.vals
		if ff.sep != "" && len(vals) == 1 {
			vals = strings.Split(vals[0], ff.sep)
		}
		if f.deep == nil && !ff.array && len(vals) > 1 {
			c.problemAt("/body/"+string(appendToken(nil, []byte(f.name))), "field must not be repeated")
			continue
		}
		if f.json != nil && !e.partsJSON(st, &f) {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = strictjson.AppendString(b, f.name)
		b = append(b, ':')
		switch {
		case f.deep != nil:
			b = appendDeep(b, f.deep, ff.views)
		case ff.array:
			b = append(b, '[')
			for j, v := range vals {
				if j > 0 {
					b = append(b, ',')
				}
				if f.json != nil && f.json[j] {
					b = append(b, v...)
				} else {
					b = appendScalar(b, ff.scalar, v)
				}
			}
			b = append(b, ']')
		case f.json != nil && f.json[0]:
			b = append(b, vals[0]...)
		default:
			b = appendScalar(b, ff.scalar, vals[0])
		}
	}
	b = append(b, '}')
	st.buf = b
	c.prefix = "/body"
	if err := st.pdoc.Parse(b, strictjson.Options{MaxDepth: e.maxDepth}); err != nil {
		var se *strictjson.Error
		if errors.As(err, &se) {
			c.problemAt("/body"+se.Pointer, se.Reason.String())
		} else {
			c.problemAt("/body", "malformed form body")
		}
		return
	}
	c.checkOwned(m.s, st.pdoc.Root())
}

// partsJSON parses a field's JSON values strictly, reporting problems at
// /body/<field> (an array field's item at /body/<field>/<i>): only a
// single well-formed value is then written into the rendered body, so a
// part cannot add properties next to its own.
func (e *enforcer) partsJSON(st *state, f *formValue) bool {
	c := &st.c
	ok := true
	for j, v := range f.vals {
		if !f.json[j] {
			continue
		}
		err := st.pdoc.Parse([]byte(v), strictjson.Options{MaxDepth: e.maxDepth})
		if err == nil {
			continue
		}
		ok = false
		ptr := "/body/" + string(appendToken(nil, []byte(f.name)))
		if len(f.vals) > 1 {
			ptr += "/" + itoa(j)
		}
		var se *strictjson.Error
		if errors.As(err, &se) {
			c.problemAt(ptr+se.Pointer, se.Reason.String())
		} else {
			c.problemAt(ptr, "malformed JSON")
		}
	}
	return ok
}

// Form and multipart limits: a body within server.max_body_bytes can still
// hold many tiny fields (and reading names costs a scan of those before).
const (
	maxParts          = 1000
	maxPartHeaderSize = 8 << 10
)

func (e *enforcer) checkMultipart(st *state, op *operation, r *http.Request, m *media, boundary string, body []byte) *pipeline.Rejection {
	c := &st.c
	if boundary == "" {
		return unsupported(op, r, "A multipart/form-data body needs a boundary parameter.")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var fields []formValue
	for n := 0; ; n++ {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil || n >= maxParts {
			c.problemAt("/body", "malformed multipart body")
			return nil
		}
		if headerSize(part.Header) > maxPartHeaderSize {
			c.problemAt("/body", "multipart part headers are too large")
			return nil
		}
		name, file := partName(part.Header)
		if name == "" {
			c.problemAt("/body", "multipart part without a form-data name")
			return nil
		}
		data, err := io.ReadAll(part)
		if err != nil {
			c.problemAt("/body", "malformed multipart body")
			return nil
		}
		isJSON := false
		if ff := m.field(name); ff != nil && ff.ctypes != nil {
			mt, reason := partMediaType(part.Header)
			if reason == "" {
				r, ok := ff.match(mt)
				if !ok {
					reason = "part Content-Type " + mt + " is not one of " + ff.accept
				}
				isJSON = r.json && ff.jsonOK
			}
			if reason != "" {
				c.problemAt("/body/"+string(appendToken(nil, []byte(name))), reason)
				continue
			}
		}
		if (!file || isJSON) && !utf8.Valid(data) {
			c.problemAt("/body/"+string(appendToken(nil, []byte(name))), "invalid UTF-8")
			continue
		}
		fields = e.addField(c, m, fields, name, string(data), file, isJSON)
	}
	e.checkFields(st, m, fields)
	return nil
}

func headerSize(h textproto.MIMEHeader) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// partMediaType returns a multipart part's media type, lower case and without
// parameters: text/plain when it has no Content-Type (RFC 7578 §4.4).
func partMediaType(h textproto.MIMEHeader) (mt, reason string) {
	cts := h["Content-Type"]
	switch len(cts) {
	case 0:
		return "text/plain", ""
	case 1:
	default:
		return "", "part has more than one Content-Type"
	}
	mt, _, err := mime.ParseMediaType(cts[0])
	if err != nil || strings.Count(mt, "/") != 1 || strings.IndexByte(mt, '*') >= 0 {
		return "", "malformed part Content-Type"
	}
	return mt, ""
}

// partName reads Content-Disposition: form-data; name="..."; filename="...".
func partName(h textproto.MIMEHeader) (name string, file bool) {
	cds := h["Content-Disposition"]
	if len(cds) != 1 {
		return "", false
	}
	disp, ps, err := mime.ParseMediaType(cds[0])
	if err != nil || disp != "form-data" {
		return "", false
	}
	_, file = ps["filename"]
	return ps["name"], file
}
