package pathnorm

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

// pathTest is one Path case: want is the canonical output when reason is "",
// otherwise reason is the expected Error.Reason.
type pathTest struct {
	name   string
	in     string
	want   string
	reason string
}

var pathAccepted = []pathTest{
	// Already canonical: returned as is.
	{name: "root → kept", in: "/", want: "/"},
	{name: "plain path → kept", in: "/api/items/42", want: "/api/items/42"},
	{name: "trailing slash → kept", in: "/a/b/", want: "/a/b/"},
	{name: "trailing slash is not dropped → /a/ differs from /a", in: "/a/", want: "/a/"},
	{name: "encoded UTF-8 with upper-case hex → kept", in: "/files/r%C3%A9sum%C3%A9.pdf", want: "/files/r%C3%A9sum%C3%A9.pdf"},
	{name: "encoded question mark → kept encoded", in: "/a/%3F", want: "/a/%3F"},
	{name: "at sign → kept", in: "/users/@me", want: "/users/@me"},
	{name: "colon → kept", in: "/a:b", want: "/a:b"},
	{name: "sub-delims other than ; → kept raw", in: "/a!$&'()*+,=b", want: "/a!$&'()*+,=b"},
	{name: "encoded sub-delim → kept encoded", in: "/a%3Db%40c%2B", want: "/a%3Db%40c%2B"},
	{name: "encoded space → kept", in: "/a%20b", want: "/a%20b"},
	{name: "case of letters → never changed", in: "/Admin/API/Items", want: "/Admin/API/Items"},
	{name: "tilde → kept", in: "/~user/x", want: "/~user/x"},
	{name: "dots inside a segment → not a dot segment", in: "/..a/a../.../.x", want: "/..a/a../.../.x"},
	{name: "lone %25 at end → literal percent kept", in: "/100%25", want: "/100%25"},
	{name: "%25 before non-hex → literal percent kept", in: "/100%25off", want: "/100%25off"},
	{name: "%25 before one hex digit then end → kept", in: "/%25a", want: "/%25a"},
	{name: "%25 before hex digit and slash → kept", in: "/%25a/b", want: "/%25a/b"},
	{name: "%25 before non-unreserved escape → kept", in: "/%25a%C3%A9", want: "/%25a%C3%A9"},
	{name: "%25%25 → two literal percents kept", in: "/%25%25", want: "/%25%25"},

	// Canonical form rewrites (RFC 3986 §6.2.2).
	{name: "lower-case hex → upper-cased", in: "/files/r%c3%a9sum%c3%a9.pdf", want: "/files/r%C3%A9sum%C3%A9.pdf"},
	{name: "mixed-case hex → upper-cased", in: "/a%3f%3F%c3%A9", want: "/a%3F%3F%C3%A9"},
	{name: "lower-case %25 → upper-cased, still literal", in: "/a%25", want: "/a%25"},
	{name: "encoded letters → decoded", in: "/%41%62c", want: "/Abc"},
	{name: "encoded digits → decoded", in: "/items/%34%32", want: "/items/42"},
	{name: "encoded tilde lower hex → decoded", in: "/%7euser", want: "/~user"},
	{name: "encoded tilde upper hex → decoded", in: "/%7Euser", want: "/~user"},
	{name: "encoded hyphen and underscore → decoded", in: "/a%2Db%5fc", want: "/a-b_c"},
	{name: "encoded dot inside a segment → decoded", in: "/file%2ejson", want: "/file.json"},
	{name: "three encoded dots → a name, decoded", in: "/%2e%2e%2e", want: "/..."},
	{name: "encoded dot before letters → decoded", in: "/%2e%2ea", want: "/..a"},
	{name: "raw double quote → encoded", in: `/a"b`, want: "/a%22b"},
	{name: "raw angle brackets → encoded", in: "/<script>", want: "/%3Cscript%3E"},
	{name: "raw braces → encoded", in: "/{id}", want: "/%7Bid%7D"},
	{name: "raw pipe caret backtick → encoded", in: "/a|b^c`d", want: "/a%7Cb%5Ec%60d"},
	{name: "raw square brackets → encoded", in: "/a[0]", want: "/a%5B0%5D"},
	{name: "raw space → encoded", in: "/a b", want: "/a%20b"},
	{name: "raw UTF-8 → encoded", in: "/r\xc3\xa9sum\xc3\xa9", want: "/r%C3%A9sum%C3%A9"},
	{name: "raw high bytes, not UTF-8 → encoded", in: "/\x80\xff", want: "/%80%FF"},

	// Slash merging (nginx merge_slashes).
	{name: "leading double slash → merged", in: "//admin", want: "/admin"},
	{name: "inner double slash → merged", in: "/a//b", want: "/a/b"},
	{name: "many slashes → merged", in: "///a////b", want: "/a/b"},
	{name: "double trailing slash → one kept", in: "/a//", want: "/a/"},
	{name: "only slashes → root", in: "////", want: "/"},

	// Literal dot segments (RFC 3986 §5.2.4).
	{name: "dot and dot-dot → resolved", in: "/a/./b/../c", want: "/a/c"},
	{name: "single dot → root", in: "/.", want: "/"},
	{name: "single dot with slash → root", in: "/./", want: "/"},
	{name: "leading dot segment → removed", in: "/./a", want: "/a"},
	{name: "trailing dot → trailing slash", in: "/a/.", want: "/a/"},
	{name: "trailing dot-dot → parent with slash", in: "/a/b/..", want: "/a/"},
	{name: "trailing dot-dot back to root", in: "/a/..", want: "/"},
	{name: "dot-dot with trailing slash", in: "/a/b/../", want: "/a/"},
	{name: "dot-dot in the middle", in: "/a/../b", want: "/b"},
	{name: "two dot-dots", in: "/a/b/../../c", want: "/c"},
	{name: "slashes merged before dot-dot", in: "/a//..", want: "/"},
	{name: "dot then double slash", in: "/a/.//b", want: "/a/b"},
	{name: "dot-dot pops a rewritten segment", in: "/%41/../b", want: "/b"},
	{name: "dot-dot after a rewritten segment", in: "/x/%c3%a9/../y", want: "/x/y"},
	{name: "dot-dot of a long segment", in: "/api/verylongsegment/../v2/", want: "/api/v2/"},
}

var pathRejected = []pathTest{
	// Not origin-form.
	{name: "empty → rejected", in: "", reason: ReasonNotOriginForm},
	{name: "asterisk-form → rejected", in: "*", reason: ReasonNotOriginForm},
	{name: "relative path → rejected", in: "a/b", reason: ReasonNotOriginForm},
	{name: "absolute-form → rejected", in: "http://example.com/a", reason: ReasonNotOriginForm},
	{name: "query only → rejected", in: "?a=1", reason: ReasonNotOriginForm},
	{name: "raw question mark → rejected, caller passed the query", in: "/a?b=1", reason: ReasonNotOriginForm},
	{name: "leading backslash → rejected", in: `\admin`, reason: ReasonNotOriginForm},

	// Backslash.
	{name: "raw backslash → rejected", in: `/a\b`, reason: ReasonBackslash},
	{name: "raw backslash traversal → rejected", in: `/a/..\..\b`, reason: ReasonBackslash},
	{name: "encoded backslash lower → rejected", in: "/a%5cb", reason: ReasonBackslash},
	{name: "encoded backslash upper → rejected", in: "/a%5Cb", reason: ReasonBackslash},

	// Encoded slash.
	{name: "encoded slash lower → rejected", in: "/a%2fb", reason: ReasonEncodedSlash},
	{name: "encoded slash upper → rejected", in: "/a%2Fb", reason: ReasonEncodedSlash},
	{name: "dot-dot encoded slash → rejected", in: "/admin/..%2f", reason: ReasonEncodedSlash},
	{name: "encoded slash at start → rejected", in: "/%2Fadmin", reason: ReasonEncodedSlash},

	// Control characters.
	{name: "encoded NUL → rejected", in: "/%00", reason: ReasonControlChar},
	{name: "encoded NUL before extension → rejected", in: "/secret.txt%00.png", reason: ReasonControlChar},
	{name: "encoded CRLF → rejected", in: "/a%0d%0aSet-Cookie:x=1", reason: ReasonControlChar},
	{name: "encoded tab → rejected", in: "/a%09", reason: ReasonControlChar},
	{name: "encoded 0x1F → rejected", in: "/a%1F", reason: ReasonControlChar},
	{name: "encoded DEL → rejected", in: "/a%7f", reason: ReasonControlChar},
	{name: "raw NUL → rejected", in: "/a\x00b", reason: ReasonControlChar},
	{name: "raw tab → rejected", in: "/a\tb", reason: ReasonControlChar},
	{name: "raw CR LF → rejected", in: "/a\r\nb", reason: ReasonControlChar},
	{name: "raw DEL → rejected", in: "/a\x7f", reason: ReasonControlChar},

	// Bad percent-encoding.
	{name: "non-hex escape → rejected", in: "/a%zz", reason: ReasonBadPercentEncoding},
	{name: "one hex digit → rejected", in: "/a%4", reason: ReasonBadPercentEncoding},
	{name: "trailing percent → rejected", in: "/a%", reason: ReasonBadPercentEncoding},
	{name: "second digit not hex → rejected", in: "/a%4g", reason: ReasonBadPercentEncoding},
	{name: "percent before slash → rejected", in: "/a%/b", reason: ReasonBadPercentEncoding},
	{name: "escape split by slash → rejected", in: "/a%4/1", reason: ReasonBadPercentEncoding},
	{name: "nested escape %%32%65 (CVE-2021-42013) → rejected", in: "/%%32%65%%32%65/etc/passwd", reason: ReasonBadPercentEncoding},
	{name: "IIS %u escape → rejected", in: "/%u002e%u002e/", reason: ReasonBadPercentEncoding},

	// Double encoding.
	{name: "double-encoded dot-dot → rejected", in: "/a/%252e%252e/", reason: ReasonDoubleEncoding},
	{name: "double-encoded slash → rejected", in: "/a%252fb", reason: ReasonDoubleEncoding},
	{name: "double-encoded upper hex → rejected", in: "/a%252F", reason: ReasonDoubleEncoding},
	{name: "double-encoded letter → rejected", in: "/%2541", reason: ReasonDoubleEncoding},
	{name: "%25 then lower-case hex letters → rejected", in: "/%25ab", reason: ReasonDoubleEncoding},
	{name: "%25 then two encoded hex digits → rejected", in: "/%25%34%31", reason: ReasonDoubleEncoding},
	{name: "%25 then hex and encoded hex → rejected", in: "/%254%31", reason: ReasonDoubleEncoding},
	{name: "%25 then encoded hex and hex → rejected", in: "/%25%341", reason: ReasonDoubleEncoding},
	{name: "%25 then encoded lower hex letters → rejected", in: "/%25%66%66", reason: ReasonDoubleEncoding},

	// Path parameters.
	{name: "Tomcat/Shiro ..;/ (CVE-2020-1957) → rejected", in: "/..;/admin", reason: ReasonPathParameter},
	{name: "nested ..;/ → rejected", in: "/public/..;/admin", reason: ReasonPathParameter},
	{name: "jsessionid → rejected", in: "/a;jsessionid=1", reason: ReasonPathParameter},
	{name: "matrix variable → rejected", in: "/cars;color=red/x", reason: ReasonPathParameter},
	{name: "bare semicolon segment → rejected", in: "/;", reason: ReasonPathParameter},
	{name: "encoded semicolon lower → rejected", in: "/a%3bb", reason: ReasonPathParameter},
	{name: "encoded semicolon upper → rejected", in: "/a%3Bb", reason: ReasonPathParameter},

	// Fragments.
	{name: "raw hash → rejected", in: "/a#b", reason: ReasonFragment},
	{name: "encoded hash → rejected", in: "/a%23b", reason: ReasonFragment},

	// Encoded dot segments.
	{name: "encoded dot-dot (CVE-2021-41773 style) → rejected", in: "/%2e%2e/etc/passwd", reason: ReasonEncodedDotSegment},
	{name: "dot and encoded dot → rejected", in: "/.%2e/", reason: ReasonEncodedDotSegment},
	{name: "encoded dot and dot → rejected", in: "/%2E./x", reason: ReasonEncodedDotSegment},
	{name: "single encoded dot → rejected", in: "/%2e", reason: ReasonEncodedDotSegment},
	{name: "single encoded dot mid-path → rejected", in: "/a/%2e/b", reason: ReasonEncodedDotSegment},
	{name: "upper-case encoded dot-dot at end → rejected", in: "/a/%2E%2E", reason: ReasonEncodedDotSegment},
	{name: "icons/.%2e traversal (CVE-2021-41773) → rejected", in: "/icons/.%2e/%2e%2e/etc/passwd", reason: ReasonEncodedDotSegment},

	// Traversal above the root.
	{name: "dot-dot at root → rejected", in: "/..", reason: ReasonPathTraversal},
	{name: "dot-dot slash at root → rejected", in: "/../", reason: ReasonPathTraversal},
	{name: "etc passwd → rejected", in: "/../etc/passwd", reason: ReasonPathTraversal},
	{name: "one dot-dot too many → rejected", in: "/a/../..", reason: ReasonPathTraversal},
	{name: "deep traversal → rejected", in: "/a/b/../../../c", reason: ReasonPathTraversal},
	{name: "dot then dot-dot → rejected", in: "/./..", reason: ReasonPathTraversal},
	{name: "merged slashes do not hide traversal → rejected", in: "/a//../../b", reason: ReasonPathTraversal},
}

func TestPath(t *testing.T) {
	for _, tt := range pathAccepted {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Path(tt.in)
			if err != nil {
				t.Fatalf("Path(%q) error = %v, want %q", tt.in, err, tt.want)
			}
			if got != tt.want {
				t.Errorf("Path(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	for _, tt := range pathRejected {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Path(tt.in)
			if err == nil {
				t.Fatalf("Path(%q) = %q, want rejection %q", tt.in, got, tt.reason)
			}
			if got != "" {
				t.Errorf("Path(%q) returned %q along with an error, want \"\"", tt.in, got)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Path(%q) error %T %v, want *Error", tt.in, err, err)
			}
			if e.Reason != tt.reason {
				t.Errorf("Path(%q) reason = %q, want %q (detail %q)", tt.in, e.Reason, tt.reason, e.Detail)
			}
			checkDetail(t, e)
		})
	}
}

// checkDetail asserts an error detail is short, printable ASCII: it is shown
// to clients and must not carry their input back.
func checkDetail(t *testing.T, e *Error) {
	t.Helper()
	if e.Detail == "" || len(e.Detail) > 120 {
		t.Errorf("Detail %q: want a short non-empty sentence", e.Detail)
	}
	for i := 0; i < len(e.Detail); i++ {
		if c := e.Detail[i]; c < 0x20 || c >= 0x7f {
			t.Errorf("Detail %q contains byte %#x", e.Detail, c)
		}
	}
}

func TestPathIdempotent(t *testing.T) {
	for _, tt := range pathAccepted {
		t.Run(tt.name, func(t *testing.T) {
			once, err := Path(tt.in)
			if err != nil {
				t.Fatalf("Path(%q) error = %v", tt.in, err)
			}
			twice, err := Path(once)
			if err != nil {
				t.Fatalf("Path(%q) error = %v on its own output", once, err)
			}
			if twice != once {
				t.Errorf("Path(Path(%q)) = %q, want %q", tt.in, twice, once)
			}
		})
	}
}

// Every accepted case must also pass the invariants the fuzz target checks.
func TestPathInvariants(t *testing.T) {
	for _, tt := range pathAccepted {
		t.Run(tt.name, func(t *testing.T) {
			checkPath(t, tt.in)
		})
	}
	for _, tt := range pathRejected {
		t.Run(tt.name, func(t *testing.T) {
			checkPath(t, tt.in)
		})
	}
}

func TestPathReturnsInputWhenCanonical(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // a prefix of in
	}{
		{name: "canonical → same string", in: "/api/items/42", want: "/api/items/42"},
		{name: "root → same string", in: "/", want: "/"},
		{name: "escapes → same string", in: "/files/r%C3%A9sum%C3%A9.pdf", want: "/files/r%C3%A9sum%C3%A9.pdf"},
		{name: "trailing dot → prefix of input", in: "/a/.", want: "/a/"},
		{name: "trailing dot-dot → prefix of input", in: "/a/b/..", want: "/a/"},
		{name: "double trailing slash → prefix of input", in: "/a//", want: "/a/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Path(tt.in)
			if err != nil {
				t.Fatalf("Path(%q) error = %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Path(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if unsafe.StringData(got) != unsafe.StringData(tt.in) {
				t.Errorf("Path(%q) returned a copy, want the input's own bytes", tt.in)
			}
			allocs := testing.AllocsPerRun(100, func() { _, _ = Path(tt.in) })
			if allocs != 0 {
				t.Errorf("Path(%q) allocs = %v, want 0", tt.in, allocs)
			}
		})
	}
}

func TestAppendPath(t *testing.T) {
	for _, tt := range append(append([]pathTest{}, pathAccepted...), pathRejected...) {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("prefix:")
			got, err := AppendPath(dst, tt.in)
			if tt.reason != "" {
				var e *Error
				if !errors.As(err, &e) || e.Reason != tt.reason {
					t.Fatalf("AppendPath(%q) error = %v, want reason %q", tt.in, err, tt.reason)
				}
				if string(got) != "prefix:" {
					t.Errorf("AppendPath(%q) on error = %q, want dst unchanged %q", tt.in, got, "prefix:")
				}
				return
			}
			if err != nil {
				t.Fatalf("AppendPath(%q) error = %v", tt.in, err)
			}
			if want := "prefix:" + tt.want; string(got) != want {
				t.Errorf("AppendPath(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestAppendPathNoAllocWithCapacity(t *testing.T) {
	buf := make([]byte, 0, 256)
	for _, in := range []string{"/api/items/42", "/api//v1/./items/%7euser/r%c3%a9sum%c3%a9/../42"} {
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if buf, err = AppendPath(buf[:0], in); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("AppendPath(buf, %q) allocs = %v, want 0", in, allocs)
		}
	}
}

func TestErrorString(t *testing.T) {
	_, err := Path("/a%2fb")
	if err == nil {
		t.Fatal("Path(/a%2fb) accepted")
	}
	got := err.Error()
	want := "pathnorm: encoded-slash: path contains an encoded slash (%2F) at byte 2"
	if got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

type queryTest struct {
	name      string
	in        string
	maxParams int
	reason    string // "" = accepted
}

var queryTests = []queryTest{
	{name: "empty → accepted", in: ""},
	{name: "one pair → accepted", in: "a=1"},
	{name: "key only → accepted", in: "a"},
	{name: "two pairs → accepted", in: "a=1&b=2"},
	{name: "empty pair in the middle → ignored", in: "a=1&&b=2"},
	{name: "trailing ampersand → ignored", in: "a=1&"},
	{name: "only ampersands → accepted", in: "&&&"},
	{name: "empty key → accepted", in: "=1"},
	{name: "equals in value → accepted", in: "a=b=c"},
	{name: "plus and encoded space → accepted", in: "q=a+b%20c"},
	{name: "encoded UTF-8 → accepted", in: "q=r%C3%A9sum%c3%a9"},
	{name: "encoded semicolon is data → accepted", in: "a=%3B"},
	{name: "encoded hash is data → accepted", in: "a=%23"},
	{name: "encoded slash is data → accepted", in: "next=%2Fhome"},
	{name: "literal percent → accepted", in: "p=100%25"},
	{name: "raw question mark and slash → accepted", in: "a=?/b"},
	{name: "exactly maxParams pairs → accepted", in: "a&b&c", maxParams: 3},
	{name: "maxParams pairs with empty ones → accepted", in: "&a&&b&c&", maxParams: 3},

	{name: "semicolon separator → rejected", in: "a=1;b=2", reason: ReasonQuerySemicolon},
	{name: "lone semicolon → rejected", in: ";", reason: ReasonQuerySemicolon},
	{name: "semicolon in value → rejected", in: "a=x;y", reason: ReasonQuerySemicolon},
	{name: "raw hash → rejected", in: "a=1#frag", reason: ReasonFragment},
	{name: "non-hex escape → rejected", in: "a=%zz", reason: ReasonBadPercentEncoding},
	{name: "trailing percent → rejected", in: "a=%", reason: ReasonBadPercentEncoding},
	{name: "one hex digit → rejected", in: "a=%4", reason: ReasonBadPercentEncoding},
	{name: "percent in key → rejected", in: "%=1", reason: ReasonBadPercentEncoding},
	{name: "encoded NUL → rejected", in: "a=%00", reason: ReasonControlChar},
	{name: "encoded LF → rejected", in: "a=%0A", reason: ReasonControlChar},
	{name: "encoded CRLF → rejected", in: "a=%0d%0aX-Injected:1", reason: ReasonControlChar},
	{name: "encoded DEL → rejected", in: "a=%7f", reason: ReasonControlChar},
	{name: "raw NUL → rejected", in: "a=\x00", reason: ReasonControlChar},
	{name: "raw tab → rejected", in: "a=\tb", reason: ReasonControlChar},
	{name: "raw DEL → rejected", in: "a=\x7f", reason: ReasonControlChar},
	{name: "one pair over maxParams → rejected", in: "a&b&c&d", maxParams: 3, reason: ReasonTooManyParams},
	{name: "default limit 100 → 100 accepted", in: pairs(100)},
	{name: "default limit 100 → 101 rejected", in: pairs(101), reason: ReasonTooManyParams},
	{name: "negative maxParams means 100 → 101 rejected", in: pairs(101), maxParams: -1, reason: ReasonTooManyParams},
	{name: "first problem wins → semicolon before too many", in: "a;&b&c&d", maxParams: 3, reason: ReasonQuerySemicolon},
}

// pairs returns a query of n pairs "p=1&p=1...".
func pairs(n int) string {
	return strings.TrimSuffix(strings.Repeat("p=1&", n), "&")
}

func TestQuery(t *testing.T) {
	for _, tt := range queryTests {
		t.Run(tt.name, func(t *testing.T) {
			err := Query(tt.in, tt.maxParams)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Query(%q, %d) = %v, want nil", tt.in, tt.maxParams, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Query(%q, %d) = %v, want *Error %q", tt.in, tt.maxParams, err, tt.reason)
			}
			if e.Reason != tt.reason {
				t.Errorf("Query(%q, %d) reason = %q, want %q (detail %q)", tt.in, tt.maxParams, e.Reason, tt.reason, e.Detail)
			}
			checkDetail(t, e)
		})
	}
}

func TestQueryNoAlloc(t *testing.T) {
	in := "a=1&b=two&c=r%C3%A9sum%C3%A9&d"
	if allocs := testing.AllocsPerRun(100, func() { _ = Query(in, 0) }); allocs != 0 {
		t.Errorf("Query(%q) allocs = %v, want 0", in, allocs)
	}
}

func TestPathNoAlloc(t *testing.T) {
	in := "/api/items/42"
	if allocs := testing.AllocsPerRun(100, func() { _, _ = Path(in) }); allocs != 0 {
		t.Errorf("Path(%q) allocs = %v, want 0", in, allocs)
	}
}
