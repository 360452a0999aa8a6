package openapi

import (
	"fmt"
	"net/url"
	"strings"
)

// Schema resources: $id, $anchor, $dynamicAnchor/$dynamicRef (2020-12) and
// $recursiveAnchor/$recursiveRef (2019-09). Rampart resolves each dynamic
// reference once, at load, to the schema it statically names, and refuses
// the document where the dynamic scope could make it mean another schema
// (a second resource declaring the same dynamic anchor): the compiled
// graph then enforces exactly what the dynamic semantics would.

// ids indexes one source's $id and anchors (absolute URI → place).
type ids struct {
	byPtr   map[string]string // pointer of a schema with $id → its absolute URI
	targets map[string]string // absolute URI ("…" or "…#name") → pointer
	dynamic map[string]int    // $dynamicAnchor name → how many declare it
}

// dynRef is a $dynamicRef or $recursiveRef, checked once the graph is built.
type dynRef struct {
	at     loc     // the keyword, for messages
	from   *schema // the schema holding it
	target *schema
	anchor string // the $dynamicAnchor name; "" for $recursiveRef
}

// skipKeys hold instance data, not schemas: an "$id" in an example is not
// an identifier.
var skipKeys = map[string]bool{"example": true, "examples": true, "enum": true, "const": true, "default": true}

// index builds (once) the identifiers of src.
func (l *loader) index(src *source) *ids {
	if x, ok := l.ids[src]; ok {
		return x
	}
	x := &ids{byPtr: map[string]string{}, targets: map[string]string{}, dynamic: map[string]int{}}
	l.ids[src] = x
	var walk func(n *node, ptr, base string)
	walk = func(n *node, ptr, base string) {
		switch n.kind {
		case kSeq:
			for i, v := range n.vals {
				walk(v, fmt.Sprintf("%s/%d", ptr, i), base)
			}
			return
		case kMap:
		default:
			return
		}
		if id := n.get("$id"); id != nil && id.kind == kStr {
			if u, err := resolveURI(base, id.s); err == nil {
				base = strings.TrimSuffix(u, "#")
				x.byPtr[ptr], x.targets[base] = base, ptr
			}
		}
		for _, key := range []string{"$anchor", "$dynamicAnchor"} {
			if a := n.get(key); a != nil && a.kind == kStr {
				x.targets[base+"#"+a.s] = ptr
				if key == "$dynamicAnchor" {
					x.dynamic[a.s]++
				}
			}
		}
		for i, k := range n.keys {
			if !skipKeys[k] {
				walk(n.vals[i], ptr+"/"+ptrToken(k), base)
			}
		}
	}
	walk(src.root, "", src.uri)
	return x
}

func resolveURI(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

// baseOf returns the base URI in effect at ptr: that of the nearest
// enclosing $id, else the source's.
func (x *ids) baseOf(src *source, ptr string) string {
	for p := ptr; ; {
		if u, ok := x.byPtr[p]; ok {
			return u
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return src.uri
		}
		p = p[:i]
	}
}

// resolveSchemaRef follows a schema $ref, $dynamicRef or $recursiveRef
// value: to an $id or an $anchor when the document declares them, else as
// resolve does (JSON pointers, relative files).
func (l *loader) resolveSchemaRef(at loc, ref string) (loc, error) {
	x := l.index(at.src)
	if _, frag, _ := strings.Cut(ref, "#"); len(x.targets) == 0 && (frag == "" || frag[0] == '/') {
		return l.resolve(at, ref)
	}
	base := x.baseOf(at.src, at.ptr)
	abs, err := resolveURI(base, ref)
	if err != nil {
		return loc{}, fmt.Errorf("$ref %q: malformed reference", ref)
	}
	doc, frag, _ := strings.Cut(abs, "#")
	if frag != "" && frag[0] != '/' {
		if ptr, ok := x.targets[abs]; ok {
			n, err := walkPointer(at.src.root, ptr)
			return loc{at.src, ptr, n}, err
		}
		return loc{}, fmt.Errorf("$ref %q: no $anchor or $dynamicAnchor %q in %s", ref, frag, doc)
	}
	if ptr, ok := x.targets[doc]; ok {
		return l.resolve(loc{at.src, "", at.src.root}, "#"+ptr+frag) // frag: a pointer inside it
	}
	if base != at.src.uri {
		return loc{}, fmt.Errorf("$ref %q: resolves to %s, which no $id in this document names (identifiers are not fetched)", ref, abs)
	}
	return l.resolve(at, ref)
}

// resourceRoot is the schema "#" means in $recursiveRef at `at`: the
// nearest enclosing schema with $id, else the outermost enclosing schema
// (a component schema, or the schema of a parameter, header or media type),
// which is how such documents are written and read.
func (l *loader) resourceRoot(at loc) (loc, bool) {
	x := l.index(at.src)
	toks := strings.Split(at.ptr, "/")[1:]
	root := ""
	found := false
	for i := range toks {
		p := "/" + strings.Join(toks[:i+1], "/")
		switch {
		case !found && (toks[i] == "schema" || i == 2 && toks[0] == "components" && toks[1] == "schemas"):
			root, found = p, true
		case found:
			if _, ok := x.byPtr[p]; ok {
				root = p
			}
		}
	}
	if !found {
		if _, ok := x.byPtr[""]; !ok {
			return loc{}, false
		}
	}
	n, err := walkPointer(at.src.root, root)
	return loc{at.src, root, n}, err == nil
}

// dynamicRef compiles $dynamicRef (anchor) or $recursiveRef ("#" only)
// at kat, the keyword inside schema s at `at`.
func (l *loader) dynamicRef(s *schema, at, kat loc) {
	if kat.n.kind != kStr {
		l.errorf(kat, "must be a string")
		return
	}
	var target loc
	anchor := ""
	if strings.HasSuffix(kat.ptr, "$recursiveRef") {
		if kat.n.s != "#" {
			l.errorf(kat, `$recursiveRef must be "#"`)
			return
		}
		root, ok := l.resourceRoot(at)
		if !ok {
			l.errorf(kat, `$recursiveRef: cannot tell which schema "#" means here (give the enclosing schema an $id)`)
			return
		}
		target = root
	} else {
		_, frag, _ := strings.Cut(kat.n.s, "#")
		if frag == "" || frag[0] == '/' {
			l.errorf(kat, "$dynamicRef to a JSON pointer is not supported (use an anchor: #name)")
			return
		}
		t, err := l.resolveSchemaRef(at, kat.n.s)
		if err != nil {
			l.refError(kat, err)
			return
		}
		target, anchor = t, frag
	}
	ts := l.compileSchema(target)
	if s.ref == nil {
		s.ref = ts
	} else {
		s.allOf = append(s.allOf, ts)
	}
	l.dyn = append(l.dyn, dynRef{at: kat, from: s, target: ts, anchor: anchor})
}

// checkDynamic refuses dynamic references whose meaning depends on the
// path taken: a $dynamicAnchor name declared more than once, or a
// $recursiveAnchor resource reachable from another $recursiveAnchor
// resource (the outermost one would win).
func (l *loader) checkDynamic() {
	if len(l.dyn) == 0 {
		return
	}
	var anchored []*schema
	for _, s := range l.schemas {
		if s.recAnchor {
			anchored = append(anchored, s)
		}
	}
	for _, d := range l.dyn {
		if d.anchor != "" {
			n := 0
			for _, src := range l.sources {
				n += l.index(src).dynamic[d.anchor]
			}
			if n > 1 {
				l.errorf(d.at, "$dynamicRef: %d schemas declare $dynamicAnchor %q, so its target depends on the evaluation path; not supported", n, d.anchor)
			}
			continue
		}
		if !d.target.recAnchor {
			continue
		}
		for _, a := range anchored {
			if a != d.target && reaches(a, d.from) {
				l.errorf(d.at, "$recursiveRef: %s (also $recursiveAnchor) reaches this schema, so its target depends on the evaluation path; not supported", a.where)
				break
			}
		}
	}
}

// reaches reports whether to is in the schema graph below from.
func reaches(from, to *schema) bool {
	seen := map[*schema]bool{}
	stack := []*schema{from}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s == nil || seen[s] {
			continue
		}
		if s == to {
			return true
		}
		seen[s] = true
		stack = append(stack, s.ref, s.items, s.contains, s.addl, s.propNames, s.not, s.ifS, s.thenS, s.elseS, s.unevalProps, s.unevalItems)
		stack = append(stack, s.prefix...)
		stack = append(stack, s.allOf...)
		stack = append(stack, s.anyOf...)
		stack = append(stack, s.oneOf...)
		for _, p := range s.props {
			stack = append(stack, p.s)
		}
		for _, p := range s.patProps {
			stack = append(stack, p.s)
		}
		for _, p := range s.depSchemas {
			stack = append(stack, p.s)
		}
	}
	return false
}
