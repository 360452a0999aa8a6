package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// node is a parsed OpenAPI (or referenced) document: JSON and YAML both
// become this ordered tree, with 1-based positions for messages.
type node struct {
	s    string  // string value; number literal; "true"/"false"
	num  float64 // numbers
	keys []string
	vals []*node // map values (parallel to keys) or sequence items
	line int
	kind kind
}

type kind uint8

const (
	kNull kind = iota + 1
	kBool
	kNum
	kStr
	kMap
	kSeq
)

func (k kind) String() string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kNum:
		return "number"
	case kStr:
		return "string"
	case kMap:
		return "object"
	case kSeq:
		return "array"
	}
	return "nothing"
}

// get returns the value of key in a map, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kMap {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *node) has(key string) bool { return n.get(key) != nil }

// Limits on what a document may cost to load. A document fetched from an
// upstream's /openapi.json is input from another system: bounded like any.
const (
	defaultMaxSpecBytes = 16 << 20
	maxSpecDepth        = 256
	maxSpecNodes        = 2_000_000 // after YAML alias expansion
)

// parseDocument reads JSON (first non-space byte '{' or '[') or YAML.
func parseDocument(data []byte) (*node, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("\xef\xbb\xbf")) {
		trimmed = trimmed[3:]
	}
	if len(trimmed) == 0 {
		return nil, errors.New("the document is empty")
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		return parseJSONDocument(trimmed)
	}
	return parseYAMLDocument(trimmed)
}

func parseJSONDocument(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// Offsets only grow: count the newlines since the last call, not from
	// the start (that made a 4 MB document take seconds).
	var lastOff int64
	lastLine := 1
	lineAt := func(off int64) int {
		off = min(off, int64(len(data)))
		lastLine += bytes.Count(data[lastOff:off], []byte("\n"))
		lastOff = off
		return lastLine
	}
	count := 0
	var value func(depth int) (*node, error)
	value = func(depth int) (*node, error) {
		if depth > maxSpecDepth {
			return nil, errors.New("JSON: the document is nested too deeply")
		}
		if count++; count > maxSpecNodes {
			return nil, errors.New("JSON: the document has too many values")
		}
		line := lineAt(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				n := &node{kind: kMap, line: line}
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, err
					}
					k := kt.(string)
					for _, seen := range n.keys {
						if seen == k {
							return nil, fmt.Errorf("JSON line %d: duplicate key %q", lineAt(dec.InputOffset()), k)
						}
					}
					v, err := value(depth + 1)
					if err != nil {
						return nil, err
					}
					n.keys, n.vals = append(n.keys, k), append(n.vals, v)
				}
				_, err := dec.Token()
				return n, err
			case '[':
				n := &node{kind: kSeq, line: line}
				for dec.More() {
					v, err := value(depth + 1)
					if err != nil {
						return nil, err
					}
					n.vals = append(n.vals, v)
				}
				_, err := dec.Token()
				return n, err
			}
		case string:
			return &node{kind: kStr, s: t, line: line}, nil
		case json.Number:
			f, err := strconv.ParseFloat(t.String(), 64)
			if err != nil {
				return nil, fmt.Errorf("JSON line %d: number %s out of range", line, t)
			}
			return &node{kind: kNum, s: t.String(), num: f, line: line}, nil
		case bool:
			return &node{kind: kBool, s: strconv.FormatBool(t), line: line}, nil
		case nil:
			return &node{kind: kNull, line: line}, nil
		}
		return nil, fmt.Errorf("JSON line %d: unexpected token", line)
	}
	n, err := value(0)
	if err != nil {
		return nil, fmt.Errorf("JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("JSON: data after the document")
	}
	return n, nil
}

func parseYAMLDocument(data []byte) (*node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("YAML: %w", err)
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) != 1 {
			return nil, errors.New("YAML: the document is empty")
		}
		c := &yconv{}
		root := doc.Content[0]
		doc.Content = nil
		return c.conv(root, 0, false)
	}
	return nil, errors.New("YAML: not a document")
}

// yconv turns yaml.Nodes into nodes, expanding aliases within a budget (a
// "billion laughs" document must not become a billion nodes).
type yconv struct{ count int }

// conv converts y. Unless keep (y is, or is inside, an anchor that aliases
// may name again), converted children are dropped from y as it goes, so
// that the library's tree, several times the size of ours, is not all held
// until the end.
func (c *yconv) conv(y *yaml.Node, depth int, keep bool) (*node, error) {
	if depth > maxSpecDepth {
		return nil, errors.New("YAML: the document is nested too deeply")
	}
	if c.count++; c.count > maxSpecNodes {
		return nil, errors.New("YAML: the document has too many values (alias expansion?)")
	}
	keep = keep || y.Anchor != ""
	switch y.Kind {
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, fmt.Errorf("YAML line %d: unknown alias", y.Line)
		}
		return c.conv(y.Alias, depth+1, true)
	case yaml.MappingNode:
		n := &node{kind: kMap, line: y.Line, keys: make([]string, 0, len(y.Content)/2), vals: make([]*node, 0, len(y.Content)/2)}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("YAML line %d: mapping keys must be scalars", k.Line)
			}
			if k.Value == "<<" && k.Tag == "!!merge" {
				return nil, fmt.Errorf("YAML line %d: merge keys (<<) are not supported in OpenAPI documents", k.Line)
			}
			for _, seen := range n.keys {
				if seen == k.Value {
					return nil, fmt.Errorf("YAML line %d: duplicate key %q", k.Line, k.Value)
				}
			}
			cv, err := c.conv(v, depth+1, keep)
			if err != nil {
				return nil, err
			}
			n.keys, n.vals = append(n.keys, k.Value), append(n.vals, cv)
			if !keep {
				y.Content[i], y.Content[i+1] = nil, nil
			}
		}
		return n, nil
	case yaml.SequenceNode:
		n := &node{kind: kSeq, line: y.Line, vals: make([]*node, 0, len(y.Content))}
		for i, it := range y.Content {
			cv, err := c.conv(it, depth+1, keep)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, cv)
			if !keep {
				y.Content[i] = nil
			}
		}
		return n, nil
	case yaml.ScalarNode:
		switch y.ShortTag() {
		case "!!null":
			return &node{kind: kNull, line: y.Line}, nil
		case "!!bool":
			b := strings.EqualFold(y.Value, "true")
			return &node{kind: kBool, s: strconv.FormatBool(b), line: y.Line}, nil
		case "!!int":
			v := strings.ReplaceAll(y.Value, "_", "")
			if i, err := strconv.ParseInt(v, 0, 64); err == nil {
				return &node{kind: kNum, s: strconv.FormatInt(i, 10), num: float64(i), line: y.Line}, nil
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("YAML line %d: integer %q out of range", y.Line, y.Value)
			}
			return &node{kind: kNum, s: v, num: f, line: y.Line}, nil
		case "!!float":
			f, err := strconv.ParseFloat(strings.ReplaceAll(y.Value, "_", ""), 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, fmt.Errorf("YAML line %d: %q is not a finite number", y.Line, y.Value)
			}
			return &node{kind: kNum, s: strconv.FormatFloat(f, 'g', -1, 64), num: f, line: y.Line}, nil
		default:
			return &node{kind: kStr, s: y.Value, line: y.Line}, nil
		}
	}
	return nil, fmt.Errorf("YAML line %d: unsupported node", y.Line)
}

// ptrToken escapes one RFC 6901 reference token.
func ptrToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return ptrEscaper.Replace(s)
}

var ptrEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// ptrUnescaper undoes ptrToken: "~1" is "/" and "~0" is "~", in one pass
// so that "~01" is "~1" (RFC 6901 section 4).
var ptrUnescaper = strings.NewReplacer("~1", "/", "~0", "~")

// walkPointer follows an RFC 6901 pointer ("" or "/a/b") from n.
func walkPointer(n *node, ptr string) (*node, error) {
	if ptr == "" {
		return n, nil
	}
	if ptr[0] != '/' {
		return nil, fmt.Errorf("JSON pointer %q must start with /", ptr)
	}
	cur := n
	for _, tok := range strings.Split(ptr[1:], "/") {
		if strings.IndexByte(tok, '~') >= 0 {
			tok = ptrUnescaper.Replace(tok)
		}
		switch {
		case cur == nil:
			return nil, fmt.Errorf("JSON pointer %q does not resolve", ptr)
		case cur.kind == kMap:
			cur = cur.get(tok)
		case cur.kind == kSeq:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(cur.vals) || tok != strconv.Itoa(i) {
				return nil, fmt.Errorf("JSON pointer %q does not resolve", ptr)
			}
			cur = cur.vals[i]
		default:
			return nil, fmt.Errorf("JSON pointer %q does not resolve", ptr)
		}
	}
	if cur == nil {
		return nil, fmt.Errorf("JSON pointer %q does not resolve", ptr)
	}
	return cur, nil
}
