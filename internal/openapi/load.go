package openapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LoadError is a problem with a document: which one (Document, the name in
// openapi:), which file (the spec or a file it references) and where in it
// (an RFC 6901 JSON pointer, and the line when known).
type LoadError struct {
	Document string
	File     string
	Pointer  string
	Line     int
	Msg      string
	// Fetch is true when the document could not be read at all (network,
	// HTTP status, missing file), as opposed to read but wrong. Reload keeps
	// the last good version only for these.
	Fetch bool
}

func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "openapi %q", e.Document)
	if e.File != "" {
		b.WriteString(": ")
		b.WriteString(e.File)
		if e.Pointer != "" || e.Line > 0 {
			b.WriteString("#")
			b.WriteString(e.Pointer)
		}
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// maxLoadErrors bounds how many problems one Load lists; past it, the last
// error says how many more there are.
const maxLoadErrors = 1000

// maxSources bounds the files one document may pull in through $ref
// (DigitalOcean's document is split over about 2,900 files), and
// maxTotalSpecs how many times max_spec_bytes they may add up to.
const (
	maxSources    = 10000
	maxTotalSpecs = 4
)

// source is one loaded file: the spec or a file a $ref names.
type source struct {
	uri  string   // absolute file path or URL, the cache key
	url  *url.URL // nil for files
	name string   // as shown in messages
	root *node
}

// loc is a place in a source.
type loc struct {
	src *source
	ptr string
	n   *node
}

func (a loc) at(key string) loc {
	return loc{a.src, a.ptr + "/" + ptrToken(key), a.n.get(key)}
}

func (a loc) idx(i int) loc {
	return loc{a.src, fmt.Sprintf("%s/%d", a.ptr, i), a.n.vals[i]}
}

type loader struct {
	ctx      context.Context
	cfg      *Config
	client   *http.Client
	sources  map[string]*source
	root     *source
	errs     []error
	warns    []*LoadError // accepted, but worth fixing (Document.Warnings)
	schemas  map[string]*schema
	ids      map[*source]*ids // $id and anchors, see resource.go
	dyn      []dynRef
	v31      bool
	maxBytes int64
	read     int64 // bytes of all sources so far
	// unfetched: a remote $ref was not followed under Offline.
	unfetched bool
	unlisted  int // problems past maxLoadErrors
}

func (l *loader) errorf(at loc, format string, args ...any) *LoadError {
	e := l.problem(at, format, args...)
	if len(l.errs) < maxLoadErrors {
		l.errs = append(l.errs, e)
	} else {
		l.unlisted++
	}
	return e
}

// warnf records something the document does that is legal and enforced
// exactly, but probably not what its author meant.
func (l *loader) warnf(at loc, format string, args ...any) {
	if len(l.warns) >= maxLoadErrors {
		return
	}
	l.warns = append(l.warns, l.problem(at, format, args...))
}

func (l *loader) problem(at loc, format string, args ...any) *LoadError {
	e := &LoadError{Document: l.cfg.Name, Msg: fmt.Sprintf(format, args...)}
	if at.src != nil {
		e.File, e.Pointer = at.src.name, at.ptr
		if at.n != nil {
			e.Line = at.n.line
		}
	}
	return e
}

// refError records a $ref at `at` that cannot be followed. A file that
// could not be read keeps its Fetch mark (Reload then keeps the last good
// version); under Offline, a remote one only marks the document unfetched.
func (l *loader) refError(at loc, err error) {
	if errors.Is(err, ErrOffline) {
		l.unfetched = true
		return
	}
	var le *LoadError
	if errors.As(err, &le) {
		l.errorf(at, "%s: %s", le.File, le.Msg).Fetch = le.Fetch
		return
	}
	l.errorf(at, "%s", err.Error())
}

func (l *loader) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	if l.unlisted > 0 {
		return errors.Join(append(l.errs, &LoadError{Document: l.cfg.Name, Msg: fmt.Sprintf("%d more problems not listed", l.unlisted)})...)
	}
	return errors.Join(l.errs...)
}

// open reads and parses the file or URL named by uri (already absolute).
func (l *loader) open(uri string, u *url.URL, name string) (*source, error) {
	if s := l.sources[uri]; s != nil {
		return s, nil
	}
	if len(l.sources) >= maxSources {
		return nil, &LoadError{Document: l.cfg.Name, File: name, Msg: fmt.Sprintf("more than %d referenced files", maxSources)}
	}
	var data []byte
	var err error
	if u != nil {
		data, err = l.fetch(u)
	} else {
		data, err = l.readFile(uri)
	}
	if err != nil {
		return nil, &LoadError{Document: l.cfg.Name, File: name, Msg: err.Error(), Fetch: true}
	}
	if l.read += int64(len(data)); l.read > maxTotalSpecs*l.maxBytes {
		return nil, &LoadError{Document: l.cfg.Name, File: name, Msg: fmt.Sprintf("the document and the files it references add up to more than %d bytes (%d × max_spec_bytes)", maxTotalSpecs*l.maxBytes, maxTotalSpecs)}
	}
	root, err := parseDocument(data)
	if err != nil {
		return nil, &LoadError{Document: l.cfg.Name, File: name, Msg: err.Error()}
	}
	s := &source{uri: uri, url: u, name: name, root: root}
	l.sources[uri] = s
	return s, nil
}

func (l *loader) readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	return readLimited(f, size, l.maxBytes)
}

// readLimited reads r whole, refusing more than limit bytes. size is the
// expected size (0 when unknown): reading into a buffer of the right size
// spares the copies of a growing one (a 4 MB document is many).
func readLimited(r io.Reader, size, limit int64) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(size, limit)+bytes.MinRead))
	_, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes (max_spec_bytes)", limit)
	}
	return data, nil
}

func (l *loader) fetch(u *url.URL) ([]byte, error) {
	ctx := l.ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/yaml;q=0.9, */*;q=0.1")
	client := l.client
	if client == nil {
		client = defaultClient
	}
	if l.root != nil && !l.cfg.RemoteRefs {
		// A same-origin $ref redirected elsewhere would be the remote
		// reference remote_refs does not allow: refused before it is sent.
		c := *client
		c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
			if r.URL.Host != u.Host {
				return fmt.Errorf("redirected to another origin (%s); remote_refs: true allows it", r.URL.Host)
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		}
		client = &c
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the document: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the document: HTTP status %d", resp.StatusCode)
	}
	return readLimited(resp.Body, max(resp.ContentLength, 0), l.maxBytes)
}

// defaultClient fetches documents when Load gets no client: no proxy from
// the environment, bounded time.
var defaultClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{Proxy: nil, ResponseHeaderTimeout: 15 * time.Second},
}

// openRoot opens cfg.Spec.
func (l *loader) openRoot() (*source, error) {
	spec := l.cfg.Spec
	if strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://") {
		u, err := url.Parse(spec)
		if err != nil || u.Host == "" {
			return nil, &LoadError{Document: l.cfg.Name, File: spec, Msg: "spec is not a valid http(s) URL"}
		}
		if l.cfg.Offline {
			return nil, ErrOffline
		}
		u.Fragment = ""
		return l.open(u.String(), u, spec)
	}
	if strings.Contains(spec, "://") {
		return nil, &LoadError{Document: l.cfg.Name, File: spec, Msg: "spec must be a file path or an http(s) URL"}
	}
	path := spec
	if !filepath.IsAbs(path) && l.cfg.BaseDir != "" {
		path = filepath.Join(l.cfg.BaseDir, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &LoadError{Document: l.cfg.Name, File: spec, Msg: err.Error(), Fetch: true}
	}
	return l.open(abs, nil, spec)
}

// resolve follows one $ref from at. Local ("#/components/...") and
// relative-file ("common.yaml#/Item") references are supported; a document
// loaded from a URL may reference other paths on the same origin.
func (l *loader) resolve(at loc, ref string) (loc, error) {
	file, frag, _ := strings.Cut(ref, "#")
	src := at.src
	if file != "" {
		var err error
		src, err = l.referenced(at.src, file)
		if err != nil {
			return loc{}, err
		}
	}
	ptr, err := url.PathUnescape(frag)
	if err != nil {
		return loc{}, fmt.Errorf("$ref %q: malformed fragment", ref)
	}
	if ptr != "" && ptr[0] != '/' {
		return loc{}, fmt.Errorf("$ref %q: only JSON-pointer fragments are supported (no $anchor or $id references)", ref)
	}
	n, err := walkPointer(src.root, ptr)
	if err != nil {
		return loc{}, fmt.Errorf("$ref %q: %s in %s", ref, err.Error(), src.name)
	}
	return loc{src, ptr, n}, nil
}

func (l *loader) referenced(from *source, file string) (*source, error) {
	ru, err := url.Parse(file)
	if err != nil {
		return nil, fmt.Errorf("$ref %q: malformed reference", file)
	}
	if from.url == nil && !ru.IsAbs() {
		p, err := url.PathUnescape(file)
		if err != nil {
			return nil, fmt.Errorf("$ref %q: malformed reference", file)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(from.uri), filepath.FromSlash(p))
		}
		name := p
		if rel, err := filepath.Rel(filepath.Dir(l.root.uri), p); err == nil && !strings.HasPrefix(rel, "..") {
			name = filepath.ToSlash(rel)
		}
		return l.open(p, nil, name)
	}
	u := ru
	if from.url != nil {
		u = from.url.ResolveReference(ru)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("$ref %q: only files and http(s) URLs can be referenced", file)
	}
	sameOrigin := from.url != nil && u.Scheme == from.url.Scheme && u.Host == from.url.Host
	if !sameOrigin && !l.cfg.RemoteRefs {
		return nil, fmt.Errorf("$ref %q: references to another origin are not followed (remote_refs: true allows them)", file)
	}
	if l.cfg.Offline {
		return nil, ErrOffline
	}
	u.Fragment = ""
	return l.open(u.String(), u, u.String())
}

// refValue follows a JSON Reference standing for a whole map of schemas,
// as in properties: {$ref: 'attributes.yml#/droplet_ids'} (DigitalOcean's
// document). A "$ref" key whose value is an object is a property named
// "$ref" and stays.
func (l *loader) refValue(at loc) (loc, bool) {
	if r := at.n.get("$ref"); r == nil || r.kind != kStr {
		return at, true
	}
	return l.deref(at)
}

// refsResolve checks that the $refs of a map of objects Rampart does not
// enforce (response headers, examples) resolve: a broken reference is a
// broken document wherever it is.
func (l *loader) refsResolve(at loc) {
	if at.n == nil || at.n.kind != kMap {
		return
	}
	for i, k := range at.n.keys {
		l.deref(loc{at.src, at.ptr + "/" + ptrToken(k), at.n.vals[i]})
	}
}

// maxRefHops bounds a chain of $refs to $refs.
const maxRefHops = 32

// deref follows $ref chains of non-schema objects (path items, operations,
// parameters, request bodies, responses, security schemes). Unlike schemas,
// these cannot be recursive: a cycle is an error.
func (l *loader) deref(at loc) (loc, bool) {
	start := at
	var chain []string
	for at.n != nil && at.n.kind == kMap {
		r := at.n.get("$ref")
		if r == nil {
			return at, true
		}
		here := at.src.name + "#" + at.ptr
		for _, c := range chain {
			if c == here {
				l.errorf(start.at("$ref"), "circular $ref: %s → %s", strings.Join(chain, " → "), here)
				return at, false
			}
		}
		if chain = append(chain, here); len(chain) > maxRefHops {
			l.errorf(start.at("$ref"), "$ref chain longer than %d", maxRefHops)
			return at, false
		}
		if r.kind != kStr {
			l.errorf(at.at("$ref"), "$ref must be a string")
			return at, false
		}
		next, err := l.resolve(at, r.s)
		if err != nil {
			l.refError(at.at("$ref"), err)
			return at, false
		}
		at = next
	}
	return at, at.n != nil
}
