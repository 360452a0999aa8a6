package openapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/pathnorm"
	"github.com/rampart-gw/rampart/internal/route"
)

// TestParameterStylesAndFormEncodings drives the styles of
// testdata/styles-3.0.yaml through real servers: legitimate requests reach
// the upstream byte for byte, bad ones are refused with the failing field
// named and never reach it.
func TestParameterStylesAndFormEncodings(t *testing.T) {
	h := newHarness(t, Config{Name: "styles", Spec: "testdata/styles-3.0.yaml", ValidateRequests: true, RejectUndocumented: true}, nil)
	const form = "application/x-www-form-urlencoded"
	customer := "email=a%40example.com&balance=-5&tax_exempt=true&address%5Bline1%5D=1+Main+St&address%5Bgeo%5D%5Blat%5D=52.1" +
		"&expand%5B0%5D=default_source&expand%5B1%5D=tax_ids&metadata%5Border_id%5D=6735" +
		"&items%5B0%5D%5Bprice%5D=price_1&items%5B0%5D%5Bquantity%5D=2&items%5B1%5D%5Bprice%5D=price_2&tags=vip%7Cnew"
	ok := []struct{ name, method, target, ctype, body string }{
		{"Stripe form body with deepObject objects, arrays and nesting", "POST", "/v1/customers", form, customer},
		{"deepObject array with [] appends", "POST", "/v1/customers", form, "email=x&expand[]=a&expand[]=b"},
		{"indexes out of order", "POST", "/v1/customers", form, "email=x&items[1][price]=b&items[0][price]=a&items[0][quantity]=1"},
		{"metadata= clears (the empty-string branch)", "POST", "/v1/customers", form, "email=x&metadata="},
		{"number-looking metadata value stays a string", "POST", "/v1/customers", form, "email=x&metadata[n]=12"},
		{"multipart with a deepObject field", "POST", "/v1/customers", "multipart/form-data; boundary=XX",
			"--XX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b\r\n--XX\r\nContent-Disposition: form-data; name=\"address[city]\"\r\n\r\nUtrecht\r\n--XX--\r\n"},
		{"deepObject query object", "GET", "/v1/charges?created%5Bgte%5D=1700000000&created%5Blt%5D=1800000000&limit=3", "", ""},
		{"deepObject query: the integer branch", "GET", "/v1/charges?created=1700000000", "", ""},
		{"deepObject query array", "GET", "/v1/charges?expand[0]=data.customer&expand[1]=data.invoice", "", ""},
		{"allowEmptyValue", "GET", "/v1/charges?starting_after=", "", ""},
		{"form-exploded object query (OpenAI effective_at)", "GET", "/v1/audit_logs?gt=1&lte=5&limit=2", "", ""},
		{"free-form exploded object owns every name", "GET", "/v1/search?a=1&b=2", "", ""},
		{"but not a query credential", "GET", "/v1/search?a=1&api_key=k-123", "", ""},
		{"path simple object, form object, header exploded object, spaceDelimited", "GET", "/v1/colors/R,100,G,200?rgb=R,1,G,2&ids=1%202", "", ""},
		{"label exploded array", "GET", "/v1/labels/.1.2.3", "", ""},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			got := h.do(tt.method, tt.target, tt.ctype, tt.body, "X-Point: x=1,y=2")
			if got.status != 200 {
				_, d := got.problem()
				t.Fatalf("%s %s → %d %s", tt.method, tt.target, got.status, d)
			}
			s := h.up.last()
			_, wantQuery, _ := strings.Cut(tt.target, "?")
			if string(s.Body) != tt.body || s.Query != wantQuery {
				t.Errorf("upstream saw body %q query %q; want them unchanged", s.Body, s.Query)
			}
		})
	}
	bad := []struct{ name, method, target, ctype, body, want string }{
		{"undeclared nested property", "POST", "/v1/customers", form, "email=x&address[line1]=a&address[zip]=1", "/body/address/zip: unknown property"},
		{"nested type", "POST", "/v1/customers", form, "email=x&address[line1]=a&address[geo][lat]=north", "/body/address/geo/lat"},
		{"nested required", "POST", "/v1/customers", form, "email=x&address[city]=a", "/body/address/line1"},
		{"array item bound", "POST", "/v1/customers", form, "email=x&items[0][price]=p&items[0][quantity]=0", "/body/items/0/quantity"},
		{"sparse indexes are not an array", "POST", "/v1/customers", form, "email=x&expand[0]=a&expand[2]=b", "/body/expand"},
		{"non-canonical index", "POST", "/v1/customers", form, "email=x&expand[00]=a", "/body/expand"},
		{"value given twice", "POST", "/v1/customers", form, "email=x&address[line1]=a&address[line1]=b", "/body/address/line1: repeated property"},
		{"value and keys", "POST", "/v1/customers", form, "email=x&metadata=&metadata[a]=b", "/body/metadata/a"},
		{"malformed brackets", "POST", "/v1/customers", form, "email=x&address[line1=a", "/body/address/line1"},
		{"bracketed name of a field that is not deepObject", "POST", "/v1/customers", form, "email=x&balance[0]=1", "/body/balance[0]: unknown property"},
		{"too many fields", "POST", "/v1/customers", form, "email=x" + strings.Repeat("&expand[]=a", 1000), "/body: too many form fields"},
		{"pipeDelimited item", "POST", "/v1/customers", form, "email=x&tags=vip%7Cgold", "/body/tags/1"},
		{"multipart deepObject unknown key", "POST", "/v1/customers", "multipart/form-data; boundary=XX",
			"--XX\r\nContent-Disposition: form-data; name=\"address[zip]\"\r\n\r\n1\r\n--XX--\r\n", "/body/address/zip"},
		{"deepObject query type", "GET", "/v1/charges?created[gte]=yesterday", "", "", "/query/created"},
		{"deepObject query unknown key", "GET", "/v1/charges?created[after]=1", "", "", "/query/created"},
		{"allowEmptyValue still checks a value", "GET", "/v1/charges?starting_after=ab", "", "", "/query/starting_after"},
		{"form-exploded object property type", "GET", "/v1/audit_logs?gt=soon", "", "", "/query/effective_at/gt"},
		{"form-exploded object: unknown names stay unknown", "GET", "/v1/audit_logs?after=1", "", "", "/query/after: unknown query parameter"},
		{"free-form exploded object value type", "GET", "/v1/search?a=x", "", "", "/query/counts/a"},
		{"path object bound", "GET", "/v1/colors/R,300", "", "", "/path/color/R"},
		{"path object odd list", "GET", "/v1/colors/R,1,G", "", "", "/path/color"},
		{"form object unknown property", "GET", "/v1/colors/R,1?rgb=Z,1", "", "", "/query/rgb/Z"},
		{"spaceDelimited item type", "GET", "/v1/colors/R,1?ids=1%20x", "", "", "/query/ids/1"},
		{"label without dot", "GET", "/v1/labels/1.2", "", "", "/path/ids"},
		{"label item type", "GET", "/v1/labels/.1.x", "", "", "/path/ids/1"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			before := h.up.count()
			got := h.do(tt.method, tt.target, tt.ctype, tt.body, "X-Point: x=1,y=2")
			_, detail := got.problem()
			if got.status != 400 || h.up.count() != before || !strings.Contains(detail, tt.want) {
				t.Errorf("→ %d %q (upstream reached: %v), want 400 naming %q", got.status, detail, h.up.count() != before, tt.want)
			}
		})
	}
	t.Run("header object property type", func(t *testing.T) {
		got := h.do("GET", "/v1/colors/R,1", "", "", "X-Point: x=1,y=up")
		if _, d := got.problem(); got.status != 400 || !strings.Contains(d, "/header/X-Point/y") {
			t.Errorf("→ %d %q", got.status, d)
		}
	})
}

var stylesEnf *enforcer

// FuzzParameterStyles feeds arbitrary form bodies, query strings and
// path or header values to the bracketed-name (deepObject), delimited and
// name,value readers. Whatever the input: no panic, the body reaches the
// upstream unchanged, and what is accepted is a well-formed form encoding,
// query, or path value.
func FuzzParameterStyles(f *testing.F) {
	d, err := Load(context.Background(), Config{Name: "styles", Spec: "testdata/styles-3.0.yaml", ValidateRequests: true}, nil)
	if err != nil {
		f.Fatal(err)
	}
	stylesEnf = d.Middleware(Deps{})(http.NotFoundHandler()).(*enforcer)
	for _, s := range [][3]string{
		{"email=x&address[line1]=a&address[geo][lat]=1", "created[gte]=1&expand[0]=a", "R,100,G,200"},
		{"email=x&items[0][price]=p&items[1][price]=q&expand[]=a", "created=5&limit=3", "R=1,G=2"},
		{"email=x&metadata=&metadata[a]=b", "created[[gte]]=1", ".1.2.3"},
		{"email=x&address[line1=a&tags=vip%7Cnew", "expand[0][x]=1&expand[0]=2", "R%2C1,G"},
		{"a[" + strings.Repeat("[a]", 100), "created" + strings.Repeat("[a]", 100) + "=1", "%zz"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, body, query, value string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/customers", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
		vals := make([]string, route.MaxParams)
		op, _ := stylesEnf.match(r.Method, "/v1/customers", "", vals)
		rej := stylesEnf.validate(r, op, vals)
		got, _ := io.ReadAll(r.Body)
		if string(got) != body {
			t.Fatalf("body changed: %q", got)
		}
		if rej == nil && body != "" {
			if _, err := url.ParseQuery(body); err != nil {
				t.Fatalf("accepted a malformed form body %q: %v", body, err)
			}
		}
		r = httptest.NewRequest(http.MethodGet, "/v1/charges", nil)
		r.URL.RawQuery = query
		op, _ = stylesEnf.match(r.Method, "/v1/charges", query, vals)
		if rej := stylesEnf.validate(r, op, vals); rej == nil && query != "" {
			if _, err := url.ParseQuery(query); err != nil {
				t.Fatalf("accepted a malformed query %q: %v", query, err)
			}
		}
		for _, prefix := range []string{"/v1/colors/", "/v1/labels/"} {
			path, err := pathnorm.Path(prefix + value)
			if err != nil {
				continue
			}
			r = httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("X-Point", value)
			if op, _ = stylesEnf.match(r.Method, path, "", vals); op == nil {
				continue
			}
			if rej := stylesEnf.validate(r, op, vals); rej == nil {
				if _, err := url.PathUnescape(value); err != nil {
					t.Fatalf("accepted a malformed path value %q", value)
				}
			}
		}
	})
}
