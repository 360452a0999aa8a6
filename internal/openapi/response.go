package openapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rampart-gw/rampart/internal/openapi/strictjson"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// ResponseAction says what filtering did with a response.
type ResponseAction string

// Response actions.
const (
	// ResponseStripped: undeclared properties were removed (Fields).
	ResponseStripped ResponseAction = "stripped"
	// ResponseRejected: the response was replaced by a 502 (Fields or Reason).
	ResponseRejected ResponseAction = "rejected"
	// ResponsePassedOversized: a JSON body larger than max_response_bytes,
	// whose schema cannot be filtered as it streams, was passed through
	// unfiltered (oversized_responses: pass).
	ResponsePassedOversized ResponseAction = "passed-oversized"
	// ResponseWrongType: in strip mode, a value has a type its schema does
	// not allow (an object where an array is declared); Fields holds its
	// pointer. The response was filtered and sent.
	ResponseWrongType ResponseAction = "wrong-type"
)

// ResponseEvent reports a filtered or unfilterable response. Fields holds
// undeclared properties as JSON pointers into the response, with array
// indexes written as "*" and each pointer listed once: names, never values.
type ResponseEvent struct {
	Document  string
	Operation string // operationId, or "METHOD /path"
	Status    int
	Action    ResponseAction
	Fields    []string
	Reason    string // why a response was rejected without Fields
}

// maxReportedFields bounds ResponseEvent.Fields.
const maxReportedFields = 32

// responseMaxDepth is the nesting accepted in upstream responses; deeper
// bodies cannot be filtered and fail closed.
const responseMaxDepth = 512

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (e *enforcer) serveFiltered(w http.ResponseWriter, r *http.Request, op *operation) {
	// Ask for an unencoded body: the proxy passes the client's
	// Accept-Encoding through, and a gzip body cannot be filtered. The
	// client still gets a correct (identity) response.
	if _, ok := r.Header["Accept-Encoding"]; ok {
		r.Header.Del("Accept-Encoding")
	}
	fw := &filterWriter{ResponseWriter: w, e: e, r: r, op: op, max: e.d.cfg.maxResponseBytes()}
	if e.filter == FilterReject {
		fw.before = headerKeys(w.Header())
	}
	defer fw.release()
	e.next.ServeHTTP(fw, r)
	fw.finish()
}

func headerKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// filterWriter holds back a JSON response until it is complete, then
// filters it. Anything it cannot or need not filter passes through
// untouched and unbuffered.
type filterWriter struct {
	http.ResponseWriter
	e      *enforcer
	r      *http.Request
	op     *operation
	max    int64
	before []string // header keys set before the upstream answered (reject)

	state  wstate
	status int
	m      *media // response schema; nil: the response declares nothing
	buf    *bytes.Buffer
	sniff  bool // no Content-Type: filter only if the body looks like JSON

	// st filters bodies larger than max as they stream (wStream): the
	// upstream's writes go through st.pw to st, which writes to
	// ResponseWriter. nil until the body starts.
	st *streamer
}

type wstate uint8

const (
	wUndecided wstate = iota
	wPass
	wBuffer
	wStream // too large to buffer: filtered as it streams
	wRefuse // too large to buffer and not streamable: a 502 at finish
	wDone
)

// Unwrap lets http.ResponseController reach Hijack, SetWriteDeadline...
func (w *filterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// FlushError is what http.ResponseController.Flush calls: a no-op while the
// body is held back (the reverse proxy flushes after every write).
func (w *filterWriter) FlushError() error {
	if w.state == wUndecided {
		w.WriteHeader(http.StatusOK)
	}
	if w.state != wPass {
		return nil
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher for callers that type-assert.
func (w *filterWriter) Flush() { _ = w.FlushError() }

func (w *filterWriter) WriteHeader(code int) {
	if w.state != wUndecided {
		if w.state == wPass {
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if code < 200 { // 1xx informational responses are not the response
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
	switch w.state = w.decide(code); w.state {
	case wBuffer:
		w.buf = bufPool.Get().(*bytes.Buffer)
		w.buf.Reset()
	case wPass:
		w.ResponseWriter.WriteHeader(code)
	}
}

// decide says whether the response passes, is buffered for filtering, or
// is too large for that (Content-Length).
func (w *filterWriter) decide(code int) wstate {
	h := w.Header()
	if code == http.StatusNoContent || code == http.StatusNotModified || code == http.StatusSwitchingProtocols {
		return wPass
	}
	ct := first(h, "Content-Type")
	mt := "application/json"
	if ct == "" {
		// No declared type: clients may sniff it as JSON, so it is held
		// back and filtered if it looks like JSON (see finish).
		w.sniff = true
	} else if mt = responseMediaType(ct); !isJSON(mt) {
		return wPass // streams, HTML, files, problem details of other types
	}
	res := w.op.response(code)
	if res == nil && (code >= 500 || code >= 400 && w.e.d.cfg.PassUndocumentedErrors) {
		return wPass
	}
	if res != nil {
		w.m = matchJSONMedia(res.media, mt)
		if w.m != nil && w.m.s == nil {
			return wPass // declared without a schema: anything goes
		}
	}
	if _, ok := h["Trailer"]; ok {
		return wPass
	}
	if cl := first(h, "Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > w.max {
			return w.oversized()
		}
	}
	return wBuffer
}

// oversized decides for a body larger than max: streamed through the
// filter, or (when the schema needs lookahead) refused, or passed
// unfiltered under oversized_responses: pass.
func (w *filterWriter) oversized() wstate {
	if encoded(w.Header()) != "" {
		return wRefuse
	}
	if streamable(w.schema()) {
		return wStream
	}
	if w.e.d.cfg.OversizedResponses == OversizedPass {
		w.report(ResponseEvent{Action: ResponsePassedOversized})
		return wPass
	}
	return wRefuse
}

// encoded says why a body with a Content-Encoding cannot be filtered, or
// "" for an unencoded one.
func encoded(h http.Header) string {
	if ce := first(h, "Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return "the upstream sent an encoded (" + ce + ") JSON body that cannot be filtered"
	}
	return ""
}

// schema is what the response must conform to: nothing, for a response
// the operation does not document.
func (w *filterWriter) schema() *schema {
	if w.m != nil && w.m.s != nil {
		return w.m.s
	}
	return nothing
}

// responseMediaType returns the lower-case type/subtype of a Content-Type.
// Unlike mime.ParseMediaType it does not fail on malformed parameters
// (`application/json;;x`): clients would still read such a body as JSON,
// so it must not slip past the filter. It allocates only for upper case.
func responseMediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for i := 0; i < len(ct); i++ {
		if 'A' <= ct[i] && ct[i] <= 'Z' {
			return strings.ToLower(ct)
		}
	}
	return ct
}

func isJSON(mt string) bool {
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// matchJSONMedia finds the schema for a JSON response: its exact media
// type, else the declared JSON media type, else a wildcard.
func matchJSONMedia(list []*media, mt string) *media {
	for _, m := range list {
		if m.typ == mt {
			return m
		}
	}
	for _, m := range list {
		if m.kind == mJSON {
			return m
		}
	}
	return matchMedia(list, mt)
}

func (w *filterWriter) Write(p []byte) (int, error) {
	if w.state == wUndecided {
		w.WriteHeader(http.StatusOK)
	}
	switch w.state {
	case wBuffer:
		if int64(w.buf.Len()+len(p)) <= w.max {
			return w.buf.Write(p)
		}
		// Too large after all (no Content-Length).
		w.state = w.oversized()
		if w.state == wPass {
			w.ResponseWriter.WriteHeader(w.status)
		}
		if w.state != wRefuse {
			if _, err := w.Write(w.buf.Bytes()); err != nil {
				return 0, err
			}
		}
		w.putBuf()
		return w.Write(p)
	case wStream:
		if w.st == nil && !w.startStream(p) {
			return w.Write(p) // not JSON after all (sniffed): passed
		}
		return w.st.pw.Write(p)
	case wRefuse:
		return len(p), nil // discarded: the client gets a 502
	case wPass:
		return w.ResponseWriter.Write(p)
	}
	return 0, http.ErrBodyNotAllowed
}

// startStream starts filtering the body as it streams, given its first
// bytes. Without a Content-Type a body that does not look like JSON is not
// filtered (as in finish): startStream then switches to wPass and reports
// false.
func (w *filterWriter) startStream(first []byte) bool {
	if t := bytes.TrimLeft(first, " \t\r\n"); w.sniff && len(t) > 0 && t[0] != '{' && t[0] != '[' {
		w.state = wPass
		w.ResponseWriter.WriteHeader(w.status)
		return false
	}
	h := w.Header()
	delete(h, "Content-Length") // the filtered body is shorter
	dropValidators(h)
	w.ResponseWriter.WriteHeader(w.status)
	pr, pw := io.Pipe()
	st := &streamer{in: bufio.NewReaderSize(pr, 16<<10), out: bufio.NewWriterSize(w.ResponseWriter, 16<<10),
		reject: w.e.filter == FilterReject, max: int(w.max), pw: pw, done: make(chan error, 1)}
	w.st = st
	root := w.schema()
	go func() {
		err := st.run(root)
		if err == nil {
			err = errStreamEnded // the filter reads no more
		}
		pr.CloseWithError(err)
		st.done <- err
	}()
	return true
}

// errStreamEnded tells an upstream still writing that the document ended.
var errStreamEnded = errors.New("openapi: the JSON document has ended")

// endStream closes the stream and waits for the filter; nil means the body
// was filtered completely.
func (w *filterWriter) endStream() error {
	_ = w.st.pw.Close()
	err := <-w.st.done
	w.st.pw = nil
	if err == errStreamEnded {
		return nil
	}
	return err
}

func (w *filterWriter) release() {
	if w.st != nil && w.st.pw != nil { // the upstream failed mid-body: stop the filter
		_ = w.st.pw.CloseWithError(io.ErrUnexpectedEOF)
		<-w.st.done
		w.st.pw = nil
	}
	w.putBuf()
}

func (w *filterWriter) putBuf() {
	if w.buf != nil {
		if w.buf.Cap() <= 4<<20 {
			bufPool.Put(w.buf)
		}
		w.buf = nil
	}
}

func (w *filterWriter) report(ev ResponseEvent) {
	if w.e.deps.OnResponse == nil {
		return
	}
	ev.Document, ev.Operation = w.e.d.cfg.Name, w.op.id
	if ev.Status == 0 {
		ev.Status = w.status
	}
	w.e.deps.OnResponse(w.r, ev)
}

// finish filters a held-back response and writes it.
func (w *filterWriter) finish() {
	switch w.state {
	case wStream:
		w.finishStream()
		return
	case wRefuse:
		w.state = wDone
		if reason := encoded(w.Header()); reason != "" {
			w.fail(reason)
			return
		}
		w.fail("the response is larger than max_response_bytes and its schema cannot be filtered as it streams (oneOf/anyOf/if choosing between object shapes); oversized_responses: pass lets such responses through unfiltered")
		return
	case wBuffer:
	default:
		return
	}
	w.state = wDone
	h := w.Header()
	body := w.buf.Bytes()
	if reason := encoded(h); reason != "" {
		w.fail(reason)
		return
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(body) == 0 || w.sniff && (len(t) == 0 || t[0] != '{' && t[0] != '[') {
		w.ResponseWriter.WriteHeader(w.status)
		_, _ = w.ResponseWriter.Write(body)
		return
	}
	st := getState()
	defer putState(st)
	if err := st.doc.Parse(body, strictjson.Options{MaxDepth: responseMaxDepth}); err != nil {
		reason := "the upstream sent malformed JSON"
		var se *strictjson.Error
		if errors.As(err, &se) {
			reason += " (" + se.Reason.String() + ")"
		}
		w.fail(reason)
		return
	}
	s := &stripper{c: &st.c, flags: st.flags(st.doc.Nodes()), path: st.path[:0], views: st.views[:0], segs: st.segs[:0]}
	defer func() { st.path, st.views, st.segs = s.path[:0], s.views[:0], s.segs[:0] }()
	s.c.reset(modeResponse, true)
	var view []*schema
	if w.m != nil && w.m.s != nil {
		view = []*schema{w.m.s}
	} else {
		view = []*schema{nothing}
	}
	s.walk(view, st.doc.Root())
	if s.wrong != "" {
		if w.e.filter == FilterReject {
			w.fail(wrongTypeReason + s.wrong)
			return
		}
		w.report(ResponseEvent{Action: ResponseWrongType, Fields: []string{s.wrong}})
	}
	if len(s.fields) == 0 {
		w.ResponseWriter.WriteHeader(w.status)
		_, _ = w.ResponseWriter.Write(body)
		return
	}
	if w.e.filter == FilterReject {
		w.report(ResponseEvent{Action: ResponseRejected, Fields: s.fields})
		w.reject(strings.Join(s.fields, ", "))
		return
	}
	out := s.emit(st.buf[:0], st.doc.Root())
	st.buf = out
	w.report(ResponseEvent{Action: ResponseStripped, Fields: s.fields})
	h.Set("Content-Length", strconv.Itoa(len(out)))
	dropValidators(h)
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(out)
}

const wrongTypeReason = "a value has a type the document does not declare, at "

// dropValidators removes what describes the upstream's bytes: the
// representation changed.
func dropValidators(h http.Header) {
	delete(h, "Etag")
	delete(h, "Content-Md5")
	delete(h, "Digest")
	delete(h, "Content-Digest")
	delete(h, "Repr-Digest")
}

// finishStream ends a streamed response. The status line and part of the
// body are out, so a response that turns out unfilterable (malformed JSON,
// or in reject mode an undeclared property or type) cannot become a 502:
// the connection is aborted before the offending member is written, and
// the event is reported.
func (w *filterWriter) finishStream() {
	w.state = wDone
	if w.st == nil { // no body (HEAD)
		w.ResponseWriter.WriteHeader(w.status)
		return
	}
	err := w.endStream()
	st := w.st
	if err != nil {
		reason := err.Error()
		if errors.Is(err, errWrongType) && st.wrong == "" {
			reason = wrongTypeReason + pointerOf(st.path)
		}
		w.report(ResponseEvent{Action: ResponseRejected, Fields: st.fields, Reason: reason})
		panic(http.ErrAbortHandler)
	}
	if st.wrong != "" {
		w.report(ResponseEvent{Action: ResponseWrongType, Fields: []string{st.wrong}})
	}
	if len(st.fields) > 0 {
		w.report(ResponseEvent{Action: ResponseStripped, Fields: st.fields})
	}
}

// fail handles a response that cannot be filtered: in both modes it is
// replaced by a 502, because passing it would defeat the filter.
func (w *filterWriter) fail(reason string) {
	w.report(ResponseEvent{Action: ResponseRejected, Reason: reason})
	w.reject(reason)
}

func (w *filterWriter) reject(cause string) {
	h := w.Header()
	for k := range h {
		if !slices.Contains(w.before, k) {
			delete(h, k)
		}
	}
	rej := &pipeline.Rejection{Status: http.StatusBadGateway, Type: TypeResponseInvalid,
		Detail: "The upstream response does not conform to the API contract.",
		Err:    errors.New("openapi " + strconv.Quote(w.e.d.cfg.Name) + ": " + w.op.id + ": status " + strconv.Itoa(w.status) + ": undeclared or unfilterable: " + cause)}
	pipeline.Refuse(w.ResponseWriter, w.r, Step, w.e.deps.Observer, rej)
}

// EmptiedErrorResponses lists, for `rampart check`, the error responses
// (4xx, 5xx, 4XX, 5XX, default) an operation declares without a JSON
// schema (content: {} or no content). Filtering treats them as declaring
// no body, like undocumented ones: strip empties their JSON objects and
// arrays, reject answers 502, which hides the service's error details
// from clients. Nil when responses are not filtered.
func (d *Document) EmptiedErrorResponses() []string {
	if d.cfg.filter() == "" {
		return nil
	}
	var out []string
	for _, op := range d.ops {
		for _, r := range append(slices.Clip(op.resp), op.deflt) {
			if r == nil || r != op.deflt && r.code < 400 && r.class < 4 {
				continue
			}
			if m := matchJSONMedia(r.media, "application/json"); m != nil {
				continue
			}
			status := "default"
			switch {
			case r.code != 0:
				status = strconv.Itoa(r.code)
			case r.class != 0:
				status = strconv.Itoa(r.class) + "XX"
			}
			out = append(out, fmt.Sprintf("%s %s (#%s) response %s declares no JSON schema: its JSON bodies will be %s; declare the error body's schema",
				op.method, op.path, op.where, status, map[string]string{FilterStrip: "emptied ({})", FilterReject: "refused (502)"}[d.cfg.filter()]))
		}
	}
	return out
}

// nothing is the schema of an undocumented response: it declares no
// property at any depth.
var nothing = func() *schema {
	s := newSchema("(undocumented response)")
	s.closed = true
	s.items = s
	s.all = []*schema{s}
	return s
}()

// flags returns a zeroed per-node flag slice.
func (st *state) flags(n int) []uint8 {
	if cap(st.flagBuf) < n {
		st.flagBuf = make([]uint8, n)
	}
	f := st.flagBuf[:n]
	clear(f)
	return f
}

const (
	fRemove uint8 = 1 << iota
	fDirty        // something below was removed
)

// stripper finds undeclared properties in a response and writes the
// response without them.
type stripper struct {
	c      *checker
	flags  []uint8
	fields []string
	segs   [][]byte  // keys from the root; nil for an array index
	path   []byte    // scratch: the pointer being recorded, "*" for indexes
	views  []*schema // stack of child views, like checker.set
	wrong  string    // pointer of the first value of an undeclared type
}

// kindMask maps a JSON value's kind to the schema types that admit it.
var kindMask = [...]typeMask{strictjson.Null: tNull, strictjson.False: tBool, strictjson.True: tBool, strictjson.Number: tInt | tNum,
	strictjson.String: tStr, strictjson.Array: tArr, strictjson.Object: tObj}

// walk marks what to remove under v, given the schemas that own v (more
// than one when allOf branches declare the same property). It reports
// whether anything was removed.
func (s *stripper) walk(view []*schema, v strictjson.Value) bool {
	if s.wrong == "" && !admits(view, kindMask[v.Kind()]) {
		s.wrong = pointerOf(s.pointer())
	}
	switch v.Kind() {
	case strictjson.Object:
		return s.object(view, v)
	case strictjson.Array:
		return s.array(view, v)
	}
	return false
}

func (s *stripper) object(view []*schema, v strictjson.Value) bool {
	c := s.c
	start := len(c.set)
	for _, sch := range view {
		c.applicable(sch, v, start, 0)
	}
	// Nested walks push above this set and truncate back to its end, so it
	// stays valid (in this or an older backing array) until we return.
	set := c.set[start:]
	defer func() { c.set = c.set[:start] }()
	closed, open := openness(set)
	changed := false
	base := len(s.views)
	defer func() { s.views = s.views[:base] }()
	for m := v.First(); m.Valid(); m = m.Next() {
		key := m.Key()
		var keep bool
		s.views, keep = member(set, key, closed, open, s.views[:base])
		s.segs = append(s.segs, key)
		if !keep {
			s.flags[m.ID()] |= fRemove
			s.record()
			changed = true
		} else if child := s.views[base:]; len(child) > 0 && s.walk(child, m) {
			changed = true
		}
		s.segs = s.segs[:len(s.segs)-1]
	}
	if changed {
		s.flags[v.ID()] |= fDirty
	}
	return changed
}

// openness says whether the schemas of an object declare its properties
// (closed) or explicitly allow more (open).
func openness(set []*schema) (closed, open bool) {
	for _, x := range set {
		closed, open = closed || x.closed, open || x.open
	}
	return closed, open
}

// member decides on member key of an object whose applicable schemas are
// set: it appends the member's schemas to views and reports whether the
// member is kept (declared, matched by patternProperties, or allowed, and
// not writeOnly).
func member(set []*schema, key []byte, closed, open bool, views []*schema) ([]*schema, bool) {
	declared, writeOnly := false, false
	for _, x := range set {
		if p := x.prop(key); p != nil {
			declared = true
			_, wo := p.flags()
			writeOnly = writeOnly || wo
			views = append(views, p)
		}
	}
	pattern := false
	for _, x := range set {
		for _, pp := range x.patProps {
			if pp.re != nil && pp.re.Match(key) {
				pattern = true
				views = append(views, pp.s)
			}
		}
	}
	if !declared && !pattern {
		for _, x := range set {
			if x.addl != nil {
				views = append(views, x.addl)
			}
		}
	}
	return views, !writeOnly && (declared || pattern || open || !closed)
}

func (s *stripper) array(view []*schema, v strictjson.Value) bool {
	changed := false
	s.segs = append(s.segs, nil) // an index, reported as "*"
	all := view[0].all           // every schema that may describe the array
	if len(view) > 1 {
		all = nil
		for _, sch := range view {
			all = append(all, sch.all...)
		}
	}
	base := len(s.views)
	defer func() { s.views = s.views[:base] }()
	i := 0
	for e := v.First(); e.Valid(); e = e.Next() {
		s.views = s.views[:base]
		for _, x := range all {
			if i < len(x.prefix) {
				s.views = append(s.views, x.prefix[i])
			} else if x.items != nil {
				s.views = append(s.views, x.items)
			}
		}
		if child := s.views[base:]; len(child) > 0 && s.walk(child, e) {
			changed = true
		}
		i++
	}
	s.segs = s.segs[:len(s.segs)-1]
	if changed {
		s.flags[v.ID()] |= fDirty
	}
	return changed
}

// pointer builds the pointer of the current value in s.path.
func (s *stripper) pointer() []byte {
	s.path = s.path[:0]
	for _, k := range s.segs {
		if k == nil {
			s.path = append(s.path, "/*"...)
		} else {
			s.path = appendToken(append(s.path, '/'), k)
		}
	}
	return s.path
}

func (s *stripper) record() { s.fields = addPointer(s.fields, s.pointer()) }

// emit writes v without the removed members. Untouched subtrees are copied
// as the upstream wrote them.
func (s *stripper) emit(b []byte, v strictjson.Value) []byte {
	if s.flags[v.ID()]&fDirty == 0 {
		return append(b, v.Raw()...)
	}
	switch v.Kind() {
	case strictjson.Object:
		b = append(b, '{')
		first := true
		for m := v.First(); m.Valid(); m = m.Next() {
			if s.flags[m.ID()]&fRemove != 0 {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, m.RawKey()...)
			b = append(b, ':')
			b = s.emit(b, m)
		}
		return append(b, '}')
	case strictjson.Array:
		b = append(b, '[')
		for e := v.First(); e.Valid(); e = e.Next() {
			if e != v.First() {
				b = append(b, ',')
			}
			b = s.emit(b, e)
		}
		return append(b, ']')
	}
	return append(b, v.Raw()...)
}

// first is h's first value for the canonical name k (Header.Get without
// its canonicalization: the names here are constants).
func first(h http.Header, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}
