package openapi

import (
	"bufio"
	"errors"
	"io"

	"github.com/rampart-gw/rampart/internal/openapi/strictjson"
)

// Streaming filter: responses larger than max_response_bytes are filtered
// as they pass, token by token, so that no size lets undeclared fields
// through (issue 15). Memory is bounded by the nesting depth and the largest
// single token or object key set (each at most max_response_bytes), never by
// the size of the response.
//
// It decides exactly as the buffered filter does (stripper) wherever the
// set of schemas that applies to an object does not depend on the object's
// own members. Where it does (oneOf/anyOf with more than one branch that
// can describe an object, a discriminator, if/then/else or
// dependentSchemas that declare properties) the decision needs lookahead:
// streamable reports it and such responses are refused, or passed when the
// config says oversized_responses: pass. The output is the buffered filter's
// output without insignificant whitespace.

var (
	errUndeclared  = errors.New("the response has a property the document does not declare")
	errWrongType   = errors.New("the response has a value of a type the document does not declare")
	errTokenTooBig = errors.New("a token or an object's key set exceeds max_response_bytes")
)

// streamErr is a stream that cannot be filtered: malformed JSON (Reason
// set), or an undeclared property or type in reject mode.
type streamErr struct {
	err    error
	reason strictjson.Reason
}

func (e *streamErr) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return "the upstream sent malformed JSON (" + e.reason.String() + ")"
}

// streamer filters one JSON document from in to out.
type streamer struct {
	in     *bufio.Reader
	out    *bufio.Writer
	reject bool // stop at the first undeclared property or wrong type
	max    int  // bound of tok and of the keys of open objects
	doc    strictjson.Doc
	tok    []byte
	keys   []byte    // the unescaped keys of the open objects, for duplicates
	ends   []int     // end offsets in keys, one per key of the open objects
	path   []byte    // the current pointer, indexes written "*"
	set    []*schema // stack of applicable schemas, like checker.set
	views  []*schema // stack of child views, like stripper.views
	fields []string
	wrong  string // pointer of the first value of an undeclared type
	depth  int

	// Set when the streamer runs in its own goroutine (filterWriter).
	pw   *io.PipeWriter // the upstream's writes
	done chan error     // run's result
}

// run filters the JSON document in into out for the schema root, leaving
// the undeclared properties it removed in fields and the first value of an
// undeclared type in wrong. An error means the output is incomplete.
func (st *streamer) run(root *schema) error {
	if err := st.value([]*schema{root}, true); err != nil {
		return err
	}
	if _, err := st.peek(); err != io.EOF {
		if err == nil {
			return &streamErr{reason: strictjson.ReasonTrailingData}
		}
		return err
	}
	return st.out.Flush()
}

// peek returns the next byte that is not whitespace, unread.
func (st *streamer) peek() (byte, error) {
	for {
		c, err := st.in.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c, st.in.UnreadByte()
	}
}

// next returns the next byte that is not whitespace; EOF is malformed JSON.
func (st *streamer) next() (byte, error) {
	c, err := st.peek()
	if err == io.EOF {
		return 0, &streamErr{reason: strictjson.ReasonTruncated}
	}
	if err == nil {
		_, _ = st.in.ReadByte()
	}
	return c, err
}

func (st *streamer) write(emit bool, c byte) {
	if emit {
		_ = st.out.WriteByte(c)
	}
}

func (st *streamer) emitTok(emit bool) {
	if emit {
		_, _ = st.out.Write(st.tok)
	}
}

// value filters one value under view; emit false skips it (still checked).
func (st *streamer) value(view []*schema, emit bool) error {
	c, err := st.next()
	if err != nil {
		return err
	}
	var kind typeMask
	switch {
	case c == '{':
		kind = tObj
	case c == '[':
		kind = tArr
	case c == '"':
		kind = tStr
	case c == 't' || c == 'f':
		kind = tBool
	case c == 'n':
		kind = tNull
	default:
		kind = tInt | tNum
	}
	if emit && !admits(view, kind) {
		if st.reject {
			return &streamErr{err: errWrongType}
		}
		if st.wrong == "" {
			st.wrong = pointerOf(st.path)
		}
	}
	if kind == tObj || kind == tArr {
		if st.depth == responseMaxDepth {
			return &streamErr{reason: strictjson.ReasonTooDeep}
		}
		st.depth++
		defer func() { st.depth-- }()
		if kind == tObj {
			return st.object(view, emit)
		}
		return st.array(view, emit)
	}
	if err := st.scalar(c); err != nil {
		return err
	}
	st.emitTok(emit)
	return nil
}

// scalar reads the token starting with c into tok and checks it with the
// strict parser.
func (st *streamer) scalar(c byte) error {
	st.tok = append(st.tok[:0], c)
	if c == '"' {
		esc := false
		for {
			b, err := st.in.ReadByte()
			if err != nil {
				return &streamErr{reason: strictjson.ReasonTruncated}
			}
			if len(st.tok) >= st.max {
				return &streamErr{err: errTokenTooBig}
			}
			st.tok = append(st.tok, b)
			if esc {
				esc = false
			} else if b == '\\' {
				esc = true
			} else if b == '"' {
				break
			}
		}
	} else {
		for {
			b, err := st.in.ReadByte()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if b == ',' || b == ']' || b == '}' || b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == '"' || b == '{' || b == '[' || b == ':' {
				_ = st.in.UnreadByte()
				break
			}
			if len(st.tok) >= st.max {
				return &streamErr{err: errTokenTooBig}
			}
			st.tok = append(st.tok, b)
		}
	}
	if err := st.doc.Parse(st.tok, strictjson.Options{MaxDepth: 1}); err != nil {
		var se *strictjson.Error
		if errors.As(err, &se) {
			return &streamErr{reason: se.Reason}
		}
		return err
	}
	return nil
}

func (st *streamer) object(view []*schema, emit bool) error {
	start := len(st.set)
	if emit {
		for _, s := range view {
			st.set = staticApplicable(st.set, start, s, 0)
		}
	}
	defer func() { st.set = st.set[:start] }()
	closed, open := openness(st.set[start:])
	keyBase, keysAt := len(st.ends), len(st.keys)
	defer func() { st.ends, st.keys = st.ends[:keyBase], st.keys[:keysAt] }()
	pathAt := len(st.path)
	st.write(emit, '{')
	first := true
	base := len(st.views)
	defer func() { st.views = st.views[:base] }()
	for {
		c, err := st.next()
		if err != nil {
			return err
		}
		if c == '}' && len(st.ends) == keyBase {
			break
		}
		if len(st.ends) > keyBase {
			if c == '}' {
				break
			}
			if c != ',' {
				return &streamErr{reason: strictjson.ReasonSyntax}
			}
			if c, err = st.next(); err != nil {
				return err
			}
		}
		if c != '"' {
			return &streamErr{reason: strictjson.ReasonSyntax}
		}
		if err := st.scalar(c); err != nil {
			return err
		}
		key := st.doc.Root().Bytes()
		if err := st.addKey(keyBase, key); err != nil {
			return err
		}
		if c, err := st.next(); err != nil {
			return err
		} else if c != ':' {
			return &streamErr{reason: strictjson.ReasonSyntax}
		}
		keep := true
		st.views = st.views[:base]
		if emit {
			st.views, keep = member(st.set[start:], key, closed, open, st.views)
			st.path = appendToken(append(st.path, '/'), key)
			if !keep {
				st.fields = addPointer(st.fields, st.path)
				if st.reject {
					return &streamErr{err: errUndeclared}
				}
			} else {
				if !first {
					st.write(true, ',')
				}
				first = false
				st.emitTok(true)
				st.write(true, ':')
			}
		}
		// A child without schemas is kept as it is: emitted, not walked.
		child := st.views[base:]
		if keep && emit && len(child) == 0 {
			child = alwaysView
		}
		if err := st.value(child, keep && emit); err != nil {
			return err
		}
		st.path = st.path[:pathAt]
	}
	st.write(emit, '}')
	return nil
}

// addKey records key among those of the object whose keys start at base,
// refusing a duplicate as the strict parser does.
func (st *streamer) addKey(base int, key []byte) error {
	from := 0
	if base > 0 {
		from = st.ends[base-1]
	}
	for _, end := range st.ends[base:] {
		if string(st.keys[from:end]) == string(key) {
			return &streamErr{reason: strictjson.ReasonDuplicateKey}
		}
		from = end
	}
	if len(st.keys)+len(key) > st.max {
		return &streamErr{err: errTokenTooBig}
	}
	st.keys = append(st.keys, key...)
	st.ends = append(st.ends, len(st.keys))
	return nil
}

func (st *streamer) array(view []*schema, emit bool) error {
	// every schema that may describe the array, kept on the views stack
	// below what nested values push
	start := len(st.views)
	defer func() { st.views = st.views[:start] }()
	for _, s := range view {
		st.views = append(st.views, s.all...)
	}
	base := len(st.views)
	pathAt := len(st.path)
	st.path = append(st.path, "/*"...)
	defer func() { st.path = st.path[:pathAt] }()
	st.write(emit, '[')
	for i := 0; ; i++ {
		c, err := st.peek()
		if err == io.EOF {
			return &streamErr{reason: strictjson.ReasonTruncated}
		}
		if err != nil {
			return err
		}
		if c == ']' {
			_, _ = st.in.ReadByte()
			break
		}
		if i > 0 {
			if c != ',' {
				return &streamErr{reason: strictjson.ReasonSyntax}
			}
			_, _ = st.in.ReadByte()
			st.write(emit, ',')
		}
		st.views = st.views[:base]
		for _, x := range st.views[start:base] {
			if i < len(x.prefix) {
				st.views = append(st.views, x.prefix[i])
			} else if x.items != nil {
				st.views = append(st.views, x.items)
			}
		}
		child := st.views[base:]
		if len(child) == 0 && emit {
			child = alwaysView
		}
		if err := st.value(child, emit); err != nil {
			return err
		}
	}
	st.write(emit, ']')
	return nil
}

// alwaysView is the view of a value nothing constrains: kept as it is.
var alwaysView = func() []*schema {
	s := newSchema("(unconstrained)")
	s.always = true
	s.all = []*schema{s}
	return []*schema{s}
}()

// admits reports whether a value of kind may be described by view (an
// empty view, or a schema whose types are unknown, admits anything).
func admits(view []*schema, kind typeMask) bool {
	if len(view) == 0 {
		return true
	}
	for _, s := range view {
		if s.ptypes == 0 || s.ptypes&kind != 0 {
			return true
		}
	}
	return false
}

// staticApplicable is checker.applicable for schemas that streamable
// accepts: every branch is added, since at most one of them can say
// anything about an object.
func staticApplicable(set []*schema, start int, s *schema, depth int) []*schema {
	if s == nil || depth > 32 {
		return set
	}
	for _, x := range set[start:] {
		if x == s {
			return set
		}
	}
	set = append(set, s)
	set = staticApplicable(set, start, s.ref, depth+1)
	for _, list := range [][]*schema{s.allOf, s.anyOf, s.oneOf} {
		for _, b := range list {
			set = staticApplicable(set, start, b, depth+1)
		}
	}
	return set
}

// streamable reports whether every object under root can be filtered
// without reading it first: the schemas that apply to it do not depend on
// its members. Irrelevant branches (that cannot describe an object and
// declare no property, like the {type: null} of an optional field) do not
// count.
func streamable(root *schema) bool {
	seen := map[*schema]bool{}
	var walk func(s *schema) bool
	walk = func(s *schema) bool {
		if s == nil || seen[s] {
			return true
		}
		seen[s] = true
		for _, list := range [][]*schema{s.anyOf, s.oneOf} {
			n := 0
			for _, b := range list {
				if describesObjects(b) {
					n++
				}
			}
			if n > 1 || n > 0 && s.disc != nil && len(list) > 1 {
				return false
			}
		}
		if describesObjects(s.ifS) || describesObjects(s.thenS) || describesObjects(s.elseS) {
			return false
		}
		for _, d := range s.depSchemas {
			if describesObjects(d.s) {
				return false
			}
		}
		children := []*schema{s.ref, s.addl, s.items}
		for _, list := range [][]*schema{s.allOf, s.anyOf, s.oneOf, s.prefix} {
			children = append(children, list...)
		}
		for _, p := range s.props {
			children = append(children, p.s)
		}
		for _, p := range s.patProps {
			children = append(children, p.s)
		}
		for _, c := range children {
			if !walk(c) {
				return false
			}
		}
		return true
	}
	return walk(root)
}

// describesObjects reports whether s may apply to an object in a way that
// matters to the filter.
func describesObjects(s *schema) bool {
	if s == nil {
		return false
	}
	if s.ptypes == 0 || s.ptypes&tObj != 0 {
		return true
	}
	for _, x := range collect(s) {
		if x.closed || x.open || len(x.props) > 0 || len(x.patProps) > 0 || x.addl != nil || x.ifS != nil || x.depSchemas != nil {
			return true
		}
	}
	return false
}

// addPointer adds pointer p to fields once, up to maxReportedFields.
func addPointer(fields []string, p []byte) []string {
	for _, f := range fields {
		if f == string(p) { // no allocation: compared in place
			return fields
		}
	}
	if len(fields) < maxReportedFields {
		fields = append(fields, string(p))
	}
	return fields
}

func pointerOf(p []byte) string {
	if len(p) == 0 {
		return "/"
	}
	return string(p)
}
