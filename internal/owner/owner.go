// Package owner enforces response ownership, the read side of broken
// object-level authorization: a route names a field of its JSON responses
// that must equal a value of the caller's principal. A single object that is
// not the caller's is replaced by a refusal; the elements of a list that are
// not the caller's are removed.
//
// Responses are buffered (up to Config.MaxBytes) and parsed with the strict
// parser of request bodies, so the gateway and the client cannot disagree
// about what the field says (duplicate keys, invalid UTF-8... fail closed).
// Every 2xx response of the route must be such JSON: anything else (another
// media type, an encoded or oversized body, a field path that does not
// exist in it) is replaced by a 502. Responses that are not 2xx pass
// unchanged: they carry no object.
package owner

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/openapi/strictjson"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/spool"
)

// Problem types of this step. A 404 is the gateway's answer to a path no
// route matches, so an object that is not the caller's cannot be told from
// one that does not exist.
const (
	TypeNotOwned     = "object-not-owned"
	TypeNotFound     = "route-not-found"
	TypeUnverifiable = "response-unverifiable"
)

// Config is a route's response_owner.
type Config struct {
	// Field is the RFC 6901 JSON pointer of the response value that must
	// equal the principal's Claim: /owner for a single object; with one
	// segment * standing for each element of an array, a list whose
	// elements that do not match are removed (/items/*/owner, or /*/owner
	// for a top-level array). Compared as JSON strings, exactly; a missing
	// field never matches. Required.
	Field string `yaml:"field" conf:"required"`
	// Claim is the principal value compared: sub (the subject) or the name
	// of a top-level string claim; required.
	Claim string `yaml:"claim" conf:"required"`
	// Status answers a single object that is not the caller's, and a request
	// without a principal (auth_optional): 404 (route-not-found, the
	// default: the object cannot be told from a missing one) or 403
	// (object-not-owned).
	Status int `yaml:"status" default:"404"`
	// MaxBytes is the largest response buffered to be checked; a larger 2xx
	// response is replaced by a 502, and so is one that finds
	// server.body_memory_budget exhausted (held-back responses count
	// against it).
	MaxBytes conf.Size `yaml:"max_bytes" default:"1MiB" conf:"min=1,max=1GiB"`
}

// Validate implements the config's checks.
func (c *Config) Validate() []error {
	var errs []error
	if c.Field != "" {
		if _, _, err := parseField(c.Field); err != nil {
			errs = append(errs, &conf.FieldError{Field: "field", Msg: err.Error(), Got: true, Index: -1})
		}
	}
	if c.Status != http.StatusNotFound && c.Status != http.StatusForbidden {
		errs = append(errs, &conf.FieldError{Field: "status", Msg: fmt.Sprintf("must be 404 or 403, got %d", c.Status), Index: -1})
	}
	return errs
}

// parseField splits a pointer at its * segment: the path to the array and
// the path inside each element (list), or the whole path (single object).
func parseField(s string) (before, after []string, err error) {
	if !strings.HasPrefix(s, "/") {
		return nil, nil, errors.New("must be a JSON pointer starting with /, such as /owner or /items/*/owner")
	}
	star := -1
	tokens := strings.Split(s[1:], "/")
	for i, t := range tokens {
		if t == "*" {
			if star >= 0 {
				return nil, nil, errors.New("may have one * segment only")
			}
			star = i
		}
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	if star < 0 {
		return tokens, nil, nil
	}
	if star == len(tokens)-1 {
		return nil, nil, errors.New("must name a field inside the elements after *, such as /items/*/owner")
	}
	return tokens[:star], tokens[star+1:], nil
}

// Deps are the step's collaborators.
type Deps struct {
	Observer pipeline.Observer
	// Removed is told how many list elements were removed from a response
	// (only when some were).
	Removed func(r *http.Request, field string, removed int)
	// Bodies is the budget held-back responses are counted against (in
	// memory, never spilled: they are parsed whole); required.
	Bodies *spool.Budget
}

type step struct {
	c      Config
	path   []string // single object: the field; list: the array
	inner  []string // list: the field inside each element; nil for a single object
	list   bool
	refuse *pipeline.Rejection
	deps   Deps
}

// New builds the step.
func New(c Config, deps Deps) (pipeline.Middleware, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if deps.Bodies == nil {
		return nil, errors.New("response_owner: no body budget")
	}
	s := &step{c: c, deps: deps}
	var err error
	if s.path, s.inner, err = parseField(c.Field); err != nil {
		return nil, err
	}
	s.list = s.inner != nil
	if c.Status == http.StatusForbidden {
		s.refuse = pipeline.Reject(http.StatusForbidden, TypeNotOwned, "This object does not belong to the caller.")
	} else {
		s.refuse = pipeline.Reject(http.StatusNotFound, TypeNotFound, "No route matches this request.")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, next) })
	}, nil
}

func (s *step) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	want := s.claim(r)
	if want == "" {
		rej := *s.refuse
		rej.Err = fmt.Errorf("response_owner: the request has no principal value %s to compare %s with", s.c.Claim, s.c.Field)
		pipeline.Refuse(w, r, "response-owner", s.deps.Observer, &rej)
		return
	}
	// Ask for the whole body, unencoded: an encoded or partial one cannot
	// be read, and a 304 would pass unchecked (it is not 2xx).
	for _, k := range []string{"Accept-Encoding", "If-None-Match", "If-Modified-Since", "Range", "If-Range"} {
		r.Header.Del(k)
	}
	ow := &writer{ResponseWriter: w, s: s, r: r, want: want, before: headerKeys(w.Header())}
	defer ow.release() // also when the handler aborts with a panic
	next.ServeHTTP(ow, r)
	ow.finish()
}

// claim is the principal's value to compare, "" without one.
func (s *step) claim(r *http.Request) string {
	info := pipeline.InfoFrom(r.Context())
	if info == nil || info.Principal == nil {
		return ""
	}
	if s.c.Claim == "sub" {
		return info.Principal.Subject
	}
	v, _ := info.Principal.Claims[s.c.Claim].(string)
	return v
}

func headerKeys(h http.Header) map[string]bool {
	keys := make(map[string]bool, len(h))
	for k := range h {
		keys[k] = true
	}
	return keys
}

type wstate uint8

const (
	wUndecided wstate = iota
	wPass             // not 2xx: unchanged
	wBuffer
	wFail // a 2xx response that cannot be checked: a 502 at finish
	wDone
)

// errTooLarge stops the upstream's copy of a body over MaxBytes.
var errTooLarge = errors.New("response larger than response_owner max_bytes")

// writer holds back a 2xx response until it is complete, then checks it.
type writer struct {
	http.ResponseWriter
	s      *step
	r      *http.Request
	want   string
	before map[string]bool // header keys set before the upstream answered

	state  wstate
	status int
	reason string        // why wFail
	buf    *spool.Buffer // nil until a 2xx is held back
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// FlushError is a no-op while the body is held back.
func (w *writer) FlushError() error {
	if w.state == wUndecided {
		w.WriteHeader(http.StatusOK)
	}
	if w.state != wPass {
		return nil
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (w *writer) Flush() { _ = w.FlushError() }

func (w *writer) WriteHeader(code int) {
	if w.state != wUndecided {
		return
	}
	if code < 200 { // 1xx informational responses are not the response
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
	if code > 299 {
		w.state = wPass
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.state, w.reason = wBuffer, checkable(w.Header(), int64(w.s.c.MaxBytes))
	if w.reason != "" {
		w.state = wFail
		return
	}
	hint, _ := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64)
	buf, err := w.s.deps.Bodies.Buffer(max(hint, 0), int64(w.s.c.MaxBytes), true)
	if err != nil { // the memory budget is exhausted: refuse rather than hold it unbudgeted
		w.state, w.reason = wFail, err.Error()
		return
	}
	w.buf = buf
}

// checkable says why a 2xx response with header h cannot be checked, or "".
func checkable(h http.Header, max int64) string {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	switch {
	case err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")):
		return "not JSON"
	case h.Get("Content-Encoding") != "" && !strings.EqualFold(h.Get("Content-Encoding"), "identity"):
		return "encoded"
	}
	if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && n > max {
		return errTooLarge.Error()
	}
	return ""
}

func (w *writer) Write(p []byte) (int, error) {
	if w.state == wUndecided {
		w.WriteHeader(http.StatusOK)
	}
	switch w.state {
	case wPass:
		return w.ResponseWriter.Write(p)
	case wBuffer:
		if w.buf.Len()+int64(len(p)) > int64(w.s.c.MaxBytes) {
			w.state, w.reason = wFail, errTooLarge.Error()
			w.release()
			return 0, errTooLarge
		}
		n, err := w.buf.Write(p)
		if err != nil {
			w.state, w.reason = wFail, err.Error()
			w.release()
		}
		return n, err
	}
	return 0, errors.New("response_owner: the response is refused")
}

// release gives the held-back body's room back to the budget.
func (w *writer) release() {
	if w.buf != nil {
		w.buf.Free()
		w.buf = nil
	}
}

func (w *writer) finish() {
	if w.state == wUndecided {
		w.WriteHeader(http.StatusOK)
	}
	switch w.state {
	case wBuffer:
		w.check()
	case wFail:
		w.fail(w.reason)
	}
	w.state = wDone
}

// check answers a complete 2xx JSON body.
func (w *writer) check() {
	body, _ := w.buf.Bytes() // in memory: the buffer is never spilled
	doc, err := strictjson.Parse(body, strictjson.Options{MaxDepth: 512})
	if err != nil {
		w.fail("invalid JSON")
		return
	}
	v := lookup(doc.Root(), w.s.path)
	if !w.s.list {
		if v.Valid() && v.Kind() == strictjson.String && string(v.Bytes()) == w.want {
			w.send(body)
			return
		}
		w.clear()
		rej := *w.s.refuse
		rej.Err = fmt.Errorf("response_owner: field %s of the response does not match claim %s of subject %q", w.s.c.Field, w.s.c.Claim, w.subject())
		pipeline.Refuse(w.ResponseWriter, w.r, "response-owner", w.s.deps.Observer, &rej)
		return
	}
	if !v.Valid() || v.Kind() != strictjson.Array {
		w.fail("no array at the list's path")
		return
	}
	out := make([]byte, 0, len(body))
	out = append(out, body[:v.Offset()]...)
	out = append(out, '[')
	kept, removed := 0, 0
	for e := v.First(); e.Valid(); e = e.Next() {
		f := lookup(e, w.s.inner)
		if !f.Valid() || f.Kind() != strictjson.String || string(f.Bytes()) != w.want {
			removed++
			continue
		}
		if kept > 0 {
			out = append(out, ',')
		}
		out = append(out, e.Raw()...)
		kept++
	}
	if removed == 0 {
		w.send(body)
		return
	}
	out = append(out, ']')
	out = append(out, body[v.Offset()+len(v.Raw()):]...)
	h := w.Header()
	h.Del("Etag") // the representation changed
	h.Set("Content-Length", strconv.Itoa(len(out)))
	if w.s.deps.Removed != nil {
		w.s.deps.Removed(w.r, w.s.c.Field, removed)
	}
	w.send(out)
}

// lookup follows path from v; an invalid Value when it leads nowhere.
func lookup(v strictjson.Value, path []string) strictjson.Value {
	for _, t := range path {
		switch {
		case !v.Valid():
			return v
		case v.Kind() == strictjson.Object:
			v = v.Member(t)
		case v.Kind() == strictjson.Array:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || t != strconv.Itoa(i) {
				return strictjson.Value{}
			}
			v = v.Index(i)
		default:
			return strictjson.Value{}
		}
	}
	return v
}

func (w *writer) subject() string {
	return pipeline.InfoFrom(w.r.Context()).Principal.Subject
}

func (w *writer) send(body []byte) {
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(body)
}

// clear removes the headers the upstream set, before a refusal replaces
// its response.
func (w *writer) clear() {
	h := w.Header()
	for k := range h {
		if !w.before[k] {
			delete(h, k)
		}
	}
}

// fail replaces an unverifiable 2xx response by a 502.
func (w *writer) fail(reason string) {
	w.clear()
	rej := pipeline.Reject(http.StatusBadGateway, TypeUnverifiable, "The upstream's response could not be checked.")
	rej.Err = fmt.Errorf("response_owner: %s (field %s)", reason, w.s.c.Field)
	pipeline.Refuse(w.ResponseWriter, w.r, "response-owner", w.s.deps.Observer, rej)
}
