package pathnorm

import (
	"errors"
	"github.com/rampart-gw/rampart/internal/framing"
	"net/url"
	"slices"
	"strings"
	"testing"
)

var knownReasons = []string{
	ReasonNotOriginForm, ReasonBackslash, ReasonEncodedSlash, ReasonControlChar,
	ReasonBadPercentEncoding, ReasonDoubleEncoding, ReasonPathParameter,
	ReasonFragment, ReasonEncodedDotSegment, ReasonPathTraversal,
	ReasonQuerySemicolon, ReasonTooManyParams,
}

func FuzzPath(f *testing.F) {
	for _, tt := range pathAccepted {
		f.Add(tt.in)
	}
	for _, tt := range pathRejected {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkPath(t, raw)
	})
}

// checkPath runs Path on raw and checks every property the package promises,
// whatever the outcome.
func checkPath(t *testing.T, raw string) {
	t.Helper()
	out, err := Path(raw)
	appended, appendErr := AppendPath([]byte("x"), raw)
	if (err == nil) != (appendErr == nil) || err == nil && string(appended) != "x"+out {
		t.Fatalf("AppendPath(x, %q) = %q, %v; Path = %q, %v", raw, appended, appendErr, out, err)
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || !slices.Contains(knownReasons, e.Reason) {
			t.Fatalf("Path(%q) error = %#v, want *Error with a known reason", raw, err)
		}
		checkDetail(t, e)
		return
	}

	// What must never be accepted, whatever the rest of the input.
	if strings.ContainsAny(raw, "\\;#?") {
		t.Fatalf("Path(%q) accepted an input containing one of \\ ; # ?", raw)
	}
	lower := strings.ToLower(raw)
	for _, bad := range []string{"%2f", "%5c", "%3b", "%23", "%7f", "%00", "%0a", "%0d"} {
		if strings.Contains(lower, bad) {
			t.Fatalf("Path(%q) accepted an input containing %s", raw, bad)
		}
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 || raw[i] == 0x7f {
			t.Fatalf("Path(%q) accepted a control byte", raw)
		}
	}

	// Shape of the output.
	if !strings.HasPrefix(out, "/") {
		t.Fatalf("Path(%q) = %q: does not start with /", raw, out)
	}
	if strings.Contains(out, "//") {
		t.Fatalf("Path(%q) = %q: contains //", raw, out)
	}
	for _, bad := range []string{`\`, "%2F", "%2f", "%5C", "%5c", ";", "#", "?"} {
		if strings.Contains(out, bad) {
			t.Fatalf("Path(%q) = %q: contains %s", raw, out, bad)
		}
	}
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case c == '%':
			if i+2 >= len(out) || !isUpperHex(out[i+1]) || !isUpperHex(out[i+2]) {
				t.Fatalf("Path(%q) = %q: escape at %d is not %%XX with upper-case hex", raw, out, i)
			}
			v := byte(framing.HexDigit(out[i+1]))<<4 | byte(framing.HexDigit(out[i+2]))
			if isUnreserved(v) {
				t.Fatalf("Path(%q) = %q: unreserved %q left encoded", raw, out, v)
			}
			if v == '%' && i+4 < len(out) && framing.IsHexDigit(out[i+3]) && framing.IsHexDigit(out[i+4]) {
				t.Fatalf("Path(%q) = %q: double encoding at %d", raw, out, i)
			}
			i += 2
		case c == '/' || isUnreserved(c) || strings.IndexByte("!$&'()*+,=:@", c) >= 0:
		default:
			t.Fatalf("Path(%q) = %q: raw byte %#x is not a pchar", raw, out, c)
		}
	}
	for seg := range strings.SplitSeq(out[1:], "/") {
		if seg == "." || seg == ".." {
			t.Fatalf("Path(%q) = %q: contains a dot segment", raw, out)
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			t.Fatalf("Path(%q) = %q: segment %q does not unescape: %v", raw, out, seg, err)
		}
		if strings.ContainsAny(dec, "/\\\x00") {
			t.Fatalf("Path(%q) = %q: segment %q decodes to %q", raw, out, seg, dec)
		}
	}

	// Idempotent.
	again, err := Path(out)
	if err != nil || again != out {
		t.Fatalf("Path(%q) = %q, but Path(%q) = %q, %v", raw, out, out, again, err)
	}

	// Same resource: decoding segment by segment, the input (with slashes
	// merged and dot segments resolved the naive way) and the output agree.
	inSegs, inTrailing := decodedSegments(t, raw)
	outSegs, outTrailing := decodedSegments(t, out)
	if !slices.Equal(inSegs, outSegs) || inTrailing != outTrailing {
		t.Fatalf("Path(%q) = %q: decodes to %q (trailing %v), input to %q (trailing %v)",
			raw, out, outSegs, outTrailing, inSegs, inTrailing)
	}
}

// decodedSegments is a reference model, independent of the code under test:
// split on "/", drop empty segments, resolve literal dot segments, unescape
// the rest with net/url. trailing reports whether the path ends in a slash
// once resolved.
func decodedSegments(t *testing.T, p string) (segs []string, trailing bool) {
	t.Helper()
	for s := range strings.SplitSeq(p[1:], "/") {
		switch s {
		case "", ".":
			trailing = true
			continue
		case "..":
			trailing = true
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			continue
		}
		trailing = false
		dec, err := url.PathUnescape(s)
		if err != nil {
			t.Fatalf("segment %q of %q does not unescape: %v", s, p, err)
		}
		segs = append(segs, dec)
	}
	return segs, trailing
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func FuzzQuery(f *testing.F) {
	for _, tt := range queryTests {
		f.Add(tt.in, tt.maxParams)
	}
	f.Fuzz(func(t *testing.T, raw string, maxParams int) {
		err := Query(raw, maxParams)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !slices.Contains(knownReasons, e.Reason) {
				t.Fatalf("Query(%q) error = %#v, want *Error with a known reason", raw, err)
			}
			checkDetail(t, e)
			return
		}
		if strings.ContainsAny(raw, ";#") {
			t.Fatalf("Query(%q) accepted ; or #", raw)
		}
		for i := 0; i < len(raw); i++ {
			c := raw[i]
			if c < 0x20 || c == 0x7f {
				t.Fatalf("Query(%q) accepted control byte %#x", raw, c)
			}
			if c == '%' {
				if i+2 >= len(raw) || !framing.IsHexDigit(raw[i+1]) || !framing.IsHexDigit(raw[i+2]) {
					t.Fatalf("Query(%q) accepted a bad escape at %d", raw, i)
				}
				if v := byte(framing.HexDigit(raw[i+1]))<<4 | byte(framing.HexDigit(raw[i+2])); v < 0x20 || v == 0x7f {
					t.Fatalf("Query(%q) accepted an encoded control byte at %d", raw, i)
				}
			}
		}
		limit := maxParams
		if limit <= 0 {
			limit = DefaultMaxParams
		}
		n := 0
		for p := range strings.SplitSeq(raw, "&") {
			if p != "" {
				n++
			}
		}
		if n > limit {
			t.Fatalf("Query(%q, %d) accepted %d pairs", raw, maxParams, n)
		}
		// What the gateway accepts, net/url parses without error and
		// without dropping anything (it drops pairs only on error).
		if _, err := url.ParseQuery(raw); err != nil && n <= 1000 {
			t.Fatalf("Query(%q) accepted, url.ParseQuery: %v", raw, err)
		}
	})
}
