package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestRefused(t *testing.T) {
	deep := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	tests := []struct {
		name, in string
		reason   Reason
		pointer  string
	}{
		{"empty body", "", ReasonEmpty, ""},
		{"whitespace only", " \n\t", ReasonEmpty, ""},
		{"duplicate key → first and last parsers disagree", `{"role":"user","role":"admin"}`, ReasonDuplicateKey, "/role"},
		{"duplicate key after unescaping", `{"role":"user","\u0072ole":"admin"}`, ReasonDuplicateKey, "/role"},
		{"duplicate key nested", `{"a":[{"x":1},{"y":1,"y":2}]}`, ReasonDuplicateKey, "/a/1/y"},
		{"duplicate key among many (sorted path)", manyKeys(40, true), ReasonDuplicateKey, "/k7"},
		{"65 levels deep", deep, ReasonTooDeep, "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0"},
		{"NaN", `{"price":NaN}`, ReasonNonFinite, "/price"},
		{"Infinity", `[Infinity]`, ReasonNonFinite, "/0"},
		{"-Infinity", `[-Infinity]`, ReasonNonFinite, "/0"},
		{"1e400 → Python infinity", `{"n":1e400}`, ReasonNumberRange, "/n"},
		{"-1e400", `{"n":-1e400}`, ReasonNumberRange, "/n"},
		{"huge integer literal", `[` + strings.Repeat("9", 400) + `]`, ReasonNumberRange, "/0"},
		{"invalid UTF-8 in string", "{\"name\":\"\xff\"}", ReasonInvalidUTF8, "/name"},
		{"invalid UTF-8 in key", "{\"n\xc3\":1}", ReasonInvalidUTF8, ""},
		{"UTF-8-encoded surrogate", "[\"\xed\xa0\x80\"]", ReasonInvalidUTF8, "/0"},
		{"overlong UTF-8", "[\"\xc0\xaf\"]", ReasonInvalidUTF8, "/0"},
		{"lone high surrogate", `["\ud800"]`, ReasonLoneSurrogate, "/0"},
		{"lone low surrogate", `["\udc00x"]`, ReasonLoneSurrogate, "/0"},
		{"high surrogate + non-surrogate", `["\ud800\u0041"]`, ReasonLoneSurrogate, "/0"},
		{"BOM", "\xef\xbb\xbf{}", ReasonBOM, ""},
		{"line comment", "{\"a\":1 // x\n}", ReasonComment, ""},
		{"block comment", `/* x */ {}`, ReasonComment, ""},
		{"comment after value", `{} /**/`, ReasonComment, ""},
		{"trailing comma in object", `{"a":1,}`, ReasonTrailingComma, ""},
		{"trailing comma in array", `[1,2,]`, ReasonTrailingComma, ""},
		{"second object appended", `{"a":1}{"a":2}`, ReasonTrailingData, ""},
		{"garbage after value", `{"a":1} x`, ReasonTrailingData, ""},
		{"raw control character", "[\"a\tb\"]", ReasonControlChar, "/0"},
		{"single quotes", `{'a':1}`, ReasonSyntax, ""},
		{"leading zero", `[01]`, ReasonSyntax, ""},
		{"plus sign", `[+1]`, ReasonSyntax, "/0"},
		{"bare fraction", `[.5]`, ReasonSyntax, "/0"},
		{"dangling dot", `[1.]`, ReasonSyntax, "/0"},
		{"hex", `[0x10]`, ReasonSyntax, ""},
		{"unquoted key", `{a:1}`, ReasonSyntax, ""},
		{"truncated", `{"a":[1,2`, ReasonTruncated, "/a"},
		{"truncated string", `["abc`, ReasonTruncated, "/0"},
		{"bad escape", `["\x"]`, ReasonSyntax, "/0"},
		{"mismatched close", `[1}`, ReasonSyntax, ""},
		{"True capitalised", `[True]`, ReasonSyntax, "/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Doc
			err := d.Parse([]byte(tt.in), Options{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) = %v, want *Error", tt.in, err)
			}
			if e.Reason != tt.reason || e.Pointer != tt.pointer {
				t.Errorf("got reason %q pointer %q, want %q %q", e.Reason, e.Pointer, tt.reason, tt.pointer)
			}
			if json.Valid([]byte(tt.in)) && tt.reason != ReasonDuplicateKey && tt.reason != ReasonTooDeep &&
				tt.reason != ReasonNumberRange && tt.reason != ReasonInvalidUTF8 && tt.reason != ReasonLoneSurrogate {
				t.Errorf("encoding/json accepts %q but the reason is not one of the deliberate restrictions", tt.in)
			}
		})
	}
}

func manyKeys(n int, dup bool) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + itoa(i) + `":1`)
	}
	if dup {
		b.WriteString(`,"k7":2`)
	}
	b.WriteByte('}')
	return b.String()
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func TestAccepted(t *testing.T) {
	tests := []string{
		`{}`, `[]`, `0`, `-0`, `1.5e-3`, `"x"`, `null`, `true`, ` {"a" : [ 1 , 2 ] } `,
		`{"k":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t"}`,
		"[\"caf\xc3\xa9\", \"\xf0\x9f\x98\x80\"]",
		`{"A":1,"a":2}`, // case differs: not a duplicate at this level
		`[1e308, -1e308, 1e-400]`,
		strings.Repeat("[", 64) + strings.Repeat("]", 64),
		manyKeys(100, false),
	}
	for _, in := range tests {
		var d Doc
		if err := d.Parse([]byte(in), Options{}); err != nil {
			t.Errorf("Parse(%.40q) = %v", in, err)
			continue
		}
		checkAgainstStdlib(t, []byte(in), &d)
	}
}

func TestValues(t *testing.T) {
	d, err := Parse([]byte(`{"name":"a\"b","n":-12,"f":2.5,"big":12345678901234567,"arr":[true,false,null],"o":{}}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := d.Root()
	if got := string(root.Member("name").Bytes()); got != `a"b` {
		t.Errorf("name = %q", got)
	}
	if got := root.Member("n"); got.Float() != -12 || !got.IsIntLiteral() {
		t.Errorf("n = %v int=%v", got.Float(), got.IsIntLiteral())
	}
	if got := root.Member("f"); got.Float() != 2.5 || got.IsIntLiteral() {
		t.Errorf("f = %v", got.Float())
	}
	if got := root.Member("big").Float(); got != 12345678901234567 {
		t.Errorf("big = %v", got)
	}
	arr := root.Member("arr")
	if arr.Len() != 3 || arr.Index(0).Kind() != True || arr.Index(2).Kind() != Null || arr.Index(3).Valid() {
		t.Errorf("arr wrong")
	}
	if string(root.Member("o").Raw()) != "{}" || string(arr.RawKey()) != `"arr"` {
		t.Errorf("raw wrong")
	}
}

// TestDeepArrayIsCheap pins the "100 000-deep array" requirement: the
// parser stops at MaxDepth+1 without recursing, whatever follows.
func TestDeepArrayIsCheap(t *testing.T) {
	in := []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000))
	var d Doc
	start := time.Now()
	err := d.Parse(in, Options{})
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonTooDeep || e.Offset != DefaultMaxDepth {
		t.Fatalf("Parse = %v, want too deep at offset %d", err, DefaultMaxDepth)
	}
	if len(d.nodes) > DefaultMaxDepth+1 {
		t.Errorf("parser built %d nodes before refusing", len(d.nodes))
	}
	_ = start // no timing assertion (issue 9): the node count above proves the work is bounded
	if err := d.Parse([]byte(`[[[]]]`), Options{MaxDepth: 2}); err == nil {
		t.Error("MaxDepth 2 accepted depth 3")
	}
	if err := d.Parse([]byte(`[[]]`), Options{MaxDepth: 2}); err != nil {
		t.Errorf("MaxDepth 2 refused depth 2: %v", err)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n tab\t ctl\x01", "é😀", "bad\xffbyte"} {
		b := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if got != want {
			t.Errorf("round trip %q → %q", s, got)
		}
		if _, err := Parse(b, Options{}); err != nil {
			t.Errorf("strictjson refuses AppendString(%q) = %s: %v", s, b, err)
		}
	}
}

// checkAgainstStdlib asserts that an accepted document means exactly what
// encoding/json says it means: same structure, same strings, same numbers.
func checkAgainstStdlib(t *testing.T, in []byte, d *Doc) {
	t.Helper()
	if !json.Valid(in) {
		t.Fatalf("strictjson accepted %q, encoding/json refuses it", in)
	}
	if !utf8.Valid(in) {
		t.Fatalf("strictjson accepted invalid UTF-8 %q", in)
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var want any
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	if msg := same(d.Root(), want); msg != "" {
		t.Fatalf("strictjson and encoding/json disagree on %q: %s", in, msg)
	}
}

func same(v Value, want any) string {
	switch w := want.(type) {
	case nil:
		if v.Kind() != Null {
			return "want null"
		}
	case bool:
		if w && v.Kind() != True || !w && v.Kind() != False {
			return "want bool"
		}
	case json.Number:
		f, err := w.Float64()
		if v.Kind() != Number || err != nil && !math.IsInf(f, 0) || v.Float() != f {
			return "number " + w.String()
		}
	case string:
		if v.Kind() != String || string(v.Bytes()) != w {
			return "string " + w
		}
	case []any:
		if v.Kind() != Array || v.Len() != len(w) {
			return "array length"
		}
		i := 0
		for e := v.First(); e.Valid(); e = e.Next() {
			if m := same(e, w[i]); m != "" {
				return m
			}
			i++
		}
	case map[string]any:
		if v.Kind() != Object || v.Len() != len(w) {
			return "object size"
		}
		for m := v.First(); m.Valid(); m = m.Next() {
			x, ok := w[string(m.Key())]
			if !ok {
				return "missing key " + string(m.Key())
			}
			if msg := same(m, x); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// FuzzParse: whatever the input, Parse never panics; what it accepts,
// encoding/json accepts with the same meaning; and it never accepts the
// things it promises to refuse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `[1,2,]`, `{"a":"\ud800"}`, `1e400`, "\xef\xbb\xbf{}",
		`{"x":[{"y":{"z":null}}]}`, `"\u0000"`, `{"a":1}{}`, `[NaN]`, `{"\u0061":1,"a":2}`, "[\"\xff\"]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var d Doc
		err := d.Parse(in, Options{MaxDepth: 16})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason == 0 {
				t.Fatalf("error is not a *Error with a reason: %v", err)
			}
			return
		}
		checkAgainstStdlib(t, in, &d)
		if bytes.HasPrefix(in, []byte("\xef\xbb\xbf")) {
			t.Fatal("accepted a BOM")
		}
		if bytes.Contains(in, []byte("NaN")) && !bytes.Contains(in, []byte(`"`)) {
			t.Fatal("accepted NaN outside strings")
		}
		noDuplicates(t, d.Root())
	})
}

func noDuplicates(t *testing.T, v Value) {
	switch v.Kind() {
	case Object:
		seen := map[string]bool{}
		for m := v.First(); m.Valid(); m = m.Next() {
			if seen[string(m.Key())] {
				t.Fatalf("accepted duplicate key %q", m.Key())
			}
			seen[string(m.Key())] = true
			noDuplicates(t, m)
		}
	case Array:
		for e := v.First(); e.Valid(); e = e.Next() {
			noDuplicates(t, e)
		}
	}
}

func BenchmarkParse1KB(b *testing.B) {
	body := []byte(`{"name":"Ergonomic chair","description":"A chair with lumbar support, adjustable arms and a breathable mesh back.","price":249.99,"currency":"EUR","tags":["furniture","office","ergonomic"],"stock":{"warehouse":"ams-1","quantity":42,"reserved":3},"dimensions":{"width_cm":66.5,"depth_cm":64,"height_cm":118.5,"weight_kg":17.2},"supplier":{"id":"4b1d1c1e-7a0e-4bd4-9f6c-0d5d6f4a3a21","name":"Seats & Co","country":"NL"},"variants":[{"sku":"CH-ERG-BLK","color":"black","price_delta":0},{"sku":"CH-ERG-GRY","color":"grey","price_delta":10},{"sku":"CH-ERG-BLU","color":"blue","price_delta":15}],"available_from":"2024-03-01T09:00:00Z","discontinued":false,"notes":null}`)
	var d Doc
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Parse(body, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
