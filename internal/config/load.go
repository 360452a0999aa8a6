package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v4"
	"go.yaml.in/yaml/v4/plugin/loaderlimits"
)

// MaxFileSize is the largest config file accepted (4 MiB).
const MaxFileSize = 4 << 20

// maxDepth bounds nesting in the YAML parser; real configs nest about six deep.
const maxDepth = 64

// Load reads and validates the config file at path. env looks up ${VAR}s (pass
// os.LookupEnv in production; a nil env means no variable is set). On any problem in
// the file it returns nil and Errors holding every problem found, sorted by position.
// I/O errors are returned as a plain error wrapping the cause.
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	return Parse(path, data, env)
}

// Parse is Load for bytes already read; file names the source in messages.
func Parse(file string, data []byte, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	p := &parser{file: file, env: env}
	var cfg *Config
	if root := p.document(data); root != nil {
		cfg = p.config(root)
	}
	if len(p.errs) > 0 {
		sortErrors(p.errs)
		return nil, p.errs
	}
	return cfg, nil
}

// document parses data as exactly one YAML document whose top level is a mapping, and
// checks the YAML features config does not allow (anchors and aliases, merge keys,
// unusual tags). It returns nil when the document cannot be used at all.
func (p *parser) document(data []byte) *yaml.Node {
	if len(data) > MaxFileSize {
		p.errAt(nil, "config is larger than 4 MiB")
		return nil
	}
	if !p.checkText(data) {
		return nil
	}
	l, err := yaml.NewLoader(bytes.NewReader(data), yaml.WithPlugin(loaderlimits.New(loaderlimits.DepthValue(maxDepth))))
	if err != nil {
		p.errAt(nil, "yaml: %v", err)
		return nil
	}
	var doc yaml.Node
	if err := l.Load(&doc); err != nil {
		if err == io.EOF {
			p.errAt(nil, "config is empty (it needs at least version: 1)")
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := l.Load(&next); {
	case err == io.EOF:
	case err != nil:
		p.yamlError(err)
		return nil
	default:
		p.errAt(&next, "multiple YAML documents are not allowed: config is one document")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		p.errAt(&doc, "config is not a YAML document")
		return nil
	}
	root := doc.Content[0]
	p.checkStructure(root)
	if !p.expect(root, yaml.MappingNode, "the top level", "a mapping") {
		return nil
	}
	return root
}

// checkText reports bytes that are not UTF-8 text allowed by YAML, at their line and
// column (the YAML reader itself reports these without a position).
func (p *parser) checkText(data []byte) bool {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		bad := ""
		switch {
		case r == utf8.RuneError && size <= 1:
			bad = "invalid UTF-8 (config must be UTF-8 text)"
		case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffe || r == 0xffff:
			bad = fmt.Sprintf("control character %U is not allowed (write it as an escape in a double-quoted string)", r)
		}
		if bad != "" {
			p.errs = append(p.errs, &Error{File: p.file, Line: line, Col: col, Msg: bad})
			return false
		}
		switch {
		case r == '\n' || (r == '\r' && (i+1 >= len(data) || data[i+1] != '\n')):
			line, col = line+1, 1
		case r == '\r':
		default:
			col++
		}
		i += size
	}
	return true
}

// yamlError records a parser error at its position.
func (p *parser) yamlError(err error) {
	var le *yaml.LoadError
	if !errors.As(err, &le) {
		p.errAt(nil, "yaml: %v", err)
		return
	}
	msg := "yaml: " + le.Message
	if le.ContextMsg != "" && le.ContextMark.Line > 0 {
		msg += fmt.Sprintf(" (%s started at line %d, column %d)", le.ContextMsg, le.ContextMark.Line, max(le.ContextMark.Column, 1))
	} else if le.ContextMsg != "" {
		msg += " (" + le.ContextMsg + ")"
	}
	p.errAt(&yaml.Node{Line: le.Mark.Line, Column: le.Mark.Column}, "%s", msg)
}

// allowedTags are the tags of YAML's core schema (plus timestamps, which look like
// dates and are read as text). Anything else (!!binary, !custom) is refused.
var allowedTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!map": true, "!!seq": true, "!!timestamp": true,
}

// checkStructure refuses anchors and aliases (no alias bombs, nothing to audit twice),
// merge keys and non-standard tags anywhere in the tree.
func (p *parser) checkStructure(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		p.errAt(n, "aliases are not allowed (*%s): write the value out", n.Value)
		return
	}
	if n.Anchor != "" {
		p.errAt(n, "aliases are not allowed: remove the anchor &%s", n.Anchor)
	}
	if t := n.ShortTag(); !allowedTags[t] && !(n.Kind == yaml.ScalarNode && t == "!!merge") {
		p.errAt(n, "YAML tag %s is not supported", quoteTrunc(n.Tag))
		p.refuse(n)
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 && c.Kind == yaml.ScalarNode && c.ShortTag() == "!!merge" {
			p.errAt(c, "merge keys (<<) are not allowed: write the keys out")
			continue
		}
		p.checkStructure(c)
	}
}
