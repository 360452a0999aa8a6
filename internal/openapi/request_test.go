package openapi

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

const fastapi = "testdata/fastapi-0.110-openapi.json"

const validItem = `{"name":"Ergonomic chair","description":"Lumbar support","price":249.99,"quantity":3,` +
	`"category":"furniture","tags":["office","ergonomic"],"sku":"CH-1234","dimensions":{"width_cm":66.5,"height_cm":118,"depth_cm":64}}`

func fastapiHarness(t *testing.T, mutate ...func(*Config)) *harness {
	cfg := Config{Name: "inventory", Spec: fastapi, ValidateRequests: true, RejectUndocumented: true, FilterResponses: FilterStrip}
	for _, m := range mutate {
		m(&cfg)
	}
	return newHarness(t, cfg, nil)
}

func multipartBody(t *testing.T, fields map[string]string, files map[string]string) (string, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for k, v := range files {
		fw, err := mw.CreateFormFile(k, "photo.png")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write([]byte(v))
	}
	_ = mw.Close()
	return b.String(), mw.FormDataContentType()
}

func TestValidRequestsReachTheUpstreamUnchanged(t *testing.T) {
	h := fastapiHarness(t)
	mp, mpType := multipartBody(t, map[string]string{"caption": "front view"}, map[string]string{"file": "\x89PNG\r\n\x1a\n\x00\xff binary"})
	tests := []struct {
		name, method, target, ctype, body string
		header                            []string
	}{
		{"list with every query parameter", "GET", "/items/?skip=0&limit=10&q=chair&category=furniture&tag=a&tag=b", "", "", nil},
		{"list without parameters", "GET", "/items/", "", "", nil},
		{"optional query parameter may be omitted", "GET", "/items/?limit=100", "", "", nil},
		{"create with every field", "POST", "/items/", "application/json", validItem, []string{"X-Idempotency-Key: 0b7f3c4e-9d7a-4e8b-b1a2-6f3c2d1e0a9b"}},
		{"create with required fields only", "POST", "/items/", "application/json", `{"name":"x","price":1,"category":"books","sku":"AB-123"}`, nil},
		{"null for an Optional field", "POST", "/items/", "application/json", `{"name":"x","price":1,"category":"books","sku":"AB-123","description":null,"dimensions":null}`, nil},
		{"media type compared case-insensitively", "POST", "/items/", "Application/JSON; charset=UTF-8", validItem, nil},
		{"integer written as 3.0", "POST", "/items/", "application/json", `{"name":"x","price":1,"quantity":3.0,"category":"books","sku":"AB-123"}`, nil},
		{"patch", "PATCH", "/items/5", "application/json", `{"price":10.5}`, nil},
		{"delete", "DELETE", "/items/5", "", "", nil},
		{"form login", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=password&username=alice&password=s3cret+pass&scope=items%3Aread", nil},
		{"multipart upload", "POST", "/items/7/image", mpType, mp, nil},
		{"cookie parameter", "GET", "/users/me", "", "", []string{"Cookie: preferences=dark; other=1"}},
		{"uuid path parameter", "GET", "/users/0b7f3c4e-9d7a-4e8b-b1a2-6f3c2d1e0a9b", "", "", nil},
		{"public health check", "GET", "/health", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.up.count()
			got := h.do(tt.method, tt.target, tt.ctype, tt.body, tt.header...)
			if got.status >= 300 {
				typ, detail := got.problem()
				t.Fatalf("status %d (%s: %s), want the upstream's answer", got.status, typ, detail)
			}
			if h.up.count() != before+1 {
				t.Fatal("the upstream did not receive the request")
			}
			seen := h.up.last()
			path, query, _ := strings.Cut(tt.target, "?")
			if seen.Method != tt.method || seen.Path != path || seen.Query != query {
				t.Errorf("upstream saw %s %s?%s", seen.Method, seen.Path, seen.Query)
			}
			if string(seen.Body) != tt.body {
				t.Errorf("upstream body = %q, want the client's %q", seen.Body, tt.body)
			}
		})
	}
}

// Each invalid request gets 400 or 415 problem+json naming the failing
// field by JSON pointer, never echoing its value, and never reaches the
// upstream.
func TestInvalidRequestsAreRefused(t *testing.T) {
	h := fastapiHarness(t)
	item := func(repl ...string) string { return strings.NewReplacer(repl...).Replace(validItem) }
	deep := `{"name":"x","price":1,"category":"books","sku":"AB-123","description":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`
	mpNoFile, mpType := multipartBody(t, map[string]string{"caption": "no file"}, nil)
	mpLong, mpType2 := multipartBody(t, map[string]string{"caption": strings.Repeat("c", 201)}, map[string]string{"file": "x"})
	tests := []struct {
		name, method, target, ctype, body string
		header                            []string
		status                            int
		pointer, reason                   string
	}{
		{"wrong type", "POST", "/items/", "application/json", item(`249.99`, `"249.99"`), nil, 400, "/body/price", "expected number"},
		{"missing required property", "POST", "/items/", "application/json", item(`"sku":"CH-1234",`, ``), nil, 400, "/body/sku", "required"},
		{"too long", "POST", "/items/", "application/json", item(`Ergonomic chair`, strings.Repeat("n", 101)), nil, 400, "/body/name", "longer than 100"},
		{"out of range", "POST", "/items/", "application/json", item(`"quantity":3`, `"quantity":-1`), nil, 400, "/body/quantity", "at least 0"},
		{"exclusive minimum", "POST", "/items/", "application/json", item(`249.99`, `0`), nil, 400, "/body/price", "greater than 0"},
		{"not an integer", "POST", "/items/", "application/json", item(`"quantity":3`, `"quantity":3.5`), nil, 400, "/body/quantity", "expected integer"},
		{"enum", "POST", "/items/", "application/json", item(`furniture`, `food`), nil, 400, "/body/category", "allowed values"},
		{"pattern", "POST", "/items/", "application/json", item(`CH-1234`, `chair`), nil, 400, "/body/sku", "pattern"},
		{"too many items", "POST", "/items/", "application/json", item(`"office","ergonomic"`, strings.Repeat(`"t",`, 10)+`"t"`), nil, 400, "/body/tags", "more than 10 items"},
		{"nested object through anyOf and $ref", "POST", "/items/", "application/json", item(`"width_cm":66.5`, `"width_cm":0`), nil, 400, "/body/dimensions/width_cm", "greater than 0"},
		{"unknown field (mass assignment)", "POST", "/items/", "application/json", item(`"name"`, `"is_admin":true,"name"`), nil, 400, "/body/is_admin", "unknown property"},
		{"unknown nested field", "POST", "/items/", "application/json", item(`"depth_cm":64`, `"depth_cm":64,"owner_id":"x"`), nil, 400, "/body/dimensions/owner_id", "unknown property"},
		{"key differing only in case", "POST", "/items/", "application/json", item(`"price"`, `"Price"`), nil, 400, "/body/Price", `declared property "price"`},
		{"duplicate keys", "POST", "/items/", "application/json", item(`"name":"Ergonomic chair"`, `"name":"a","name":"b"`), nil, 400, "/body/name", "duplicate key"},
		{"duplicate keys after unescaping", "POST", "/items/", "application/json", item(`"quantity":3`, `"quantity":3,"quantit\u0079":4`), nil, 400, "/body/quantity", "duplicate key"},
		{"deep nesting", "POST", "/items/", "application/json", deep, nil, 400, "", "/body/description/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0: nested too deeply"},
		{"invalid UTF-8", "POST", "/items/", "application/json", item(`Ergonomic`, "Ergo\xffnomic"), nil, 400, "/body/name", "invalid UTF-8"},
		{"lone surrogate", "POST", "/items/", "application/json", item(`Ergonomic`, `\ud800`), nil, 400, "/body/name", "surrogate"},
		{"NaN", "POST", "/items/", "application/json", item(`249.99`, `NaN`), nil, 400, "/body/price", "NaN"},
		{"1e400", "POST", "/items/", "application/json", item(`249.99`, `1e400`), nil, 400, "/body/price", "out of range"},
		{"second object appended", "POST", "/items/", "application/json", validItem + `{"is_admin":true}`, nil, 400, "/body", "data after"},
		{"BOM", "POST", "/items/", "application/json", "\xef\xbb\xbf" + validItem, nil, 400, "/body", "byte order mark"},
		{"comment", "POST", "/items/", "application/json", item(`"name"`, `/*x*/"name"`), nil, 400, "/body", "comments"},
		{"trailing comma", "POST", "/items/", "application/json", strings.TrimSuffix(validItem, "}") + ",}", nil, 400, "/body", "trailing comma"},
		{"required body missing", "POST", "/items/", "application/json", "", nil, 400, "/body", "required"},
		{"text/plain to a JSON operation", "POST", "/items/", "text/plain", validItem, nil, 415, "", ""},
		{"form to a JSON operation", "POST", "/items/", "application/x-www-form-urlencoded", "name=x", nil, 415, "", ""},
		{"multipart to a JSON operation", "POST", "/items/", mpType, mpNoFile, nil, 415, "", ""},
		{"no Content-Type", "POST", "/items/", "", validItem, nil, 415, "", ""},
		{"malformed Content-Type", "POST", "/items/", "application/json x", validItem, nil, 415, "", ""},
		{"Content-Type without subtype", "POST", "/items/", "application/", validItem, nil, 415, "", ""},
		{"JSON in UTF-16 charset", "POST", "/items/", "application/json; charset=utf-16", validItem, nil, 415, "", ""},
		{"body to an operation without one", "GET", "/items/", "application/json", `{}`, nil, 415, "", ""},
		{"bad path parameter type", "GET", "/items/abc", "", "", nil, 400, "/path/item_id", "expected integer"},
		{"path parameter below minimum", "GET", "/items/0", "", "", nil, 400, "/path/item_id", "at least 1"},
		{"path parameter format", "GET", "/users/not-a-uuid", "", "", nil, 400, "/path/user_id", "uuid"},
		{"query parameter above maximum", "GET", "/items/?limit=1000", "", "", nil, 400, "/query/limit", "at most 100"},
		{"query parameter type", "GET", "/items/?limit=tenx9", "", "", nil, 400, "/query/limit", "expected integer"},
		{"query parameter too long", "GET", "/items/?q=" + strings.Repeat("q", 51), "", "", nil, 400, "/query/q", "longer than 50"},
		{"query parameter repeated (pollution)", "GET", "/items/?limit=1&limit=2", "", "", nil, 400, "/query/limit", "repeated"},
		{"unknown query parameter", "GET", "/items/?debug=1", "", "", nil, 400, "/query/debug", "unknown"},
		{"array query item", "GET", "/items/?tag=" + strings.Repeat("t", 31), "", "", nil, 400, "/query/tag/0", "longer than 30"},
		{"header format", "POST", "/items/", "application/json", validItem, []string{"X-Idempotency-Key: nope"}, 400, "/header/X-Idempotency-Key", "uuid"},
		{"cookie too long", "GET", "/users/me", "", "", []string{"Cookie: preferences=" + strings.Repeat("p", 65)}, 400, "/cookie/preferences", "longer than 64"},
		{"form: missing required field", "POST", "/token", "application/x-www-form-urlencoded", "username=alice", nil, 400, "/body/password", "required"},
		{"form: unknown field", "POST", "/token", "application/x-www-form-urlencoded", "username=a&password=b&is_admin=1", nil, 400, "/body/is_admin", "unknown"},
		{"form: repeated field", "POST", "/token", "application/x-www-form-urlencoded", "username=a&username=b&password=c", nil, 400, "/body/username", "repeated"},
		{"form: pattern", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=client_credentials&username=a&password=b", nil, 400, "/body/grant_type", "pattern"},
		{"multipart: missing file", "POST", "/items/7/image", mpType, mpNoFile, nil, 400, "/body/file", "required"},
		{"multipart: caption too long", "POST", "/items/7/image", mpType2, mpLong, nil, 400, "/body/caption", "longer than 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.up.count()
			got := h.do(tt.method, tt.target, tt.ctype, tt.body, tt.header...)
			typ, detail := got.problem()
			if got.status != tt.status {
				t.Fatalf("status %d (%s: %s), want %d", got.status, typ, detail, tt.status)
			}
			if h.up.count() != before {
				t.Fatal("a refused request reached the upstream")
			}
			if ct := got.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			wantType := TypeRequestInvalid
			if tt.status == 415 {
				wantType = TypeUnsupportedMediaType
			}
			if typ != wantType {
				t.Errorf("type %q, want %q", typ, wantType)
			}
			if tt.pointer != "" && !strings.Contains(detail, tt.pointer+": ") {
				t.Errorf("detail %q does not name %s", detail, tt.pointer)
			}
			if tt.reason != "" && !strings.Contains(detail, tt.reason) {
				t.Errorf("detail %q does not say %q", detail, tt.reason)
			}
			for _, secret := range []string{"Ergo\xffnomic", "food", "chair\"", "nope", "tenx9", "client_credentials", strings.Repeat("n", 101)} {
				if strings.Contains(string(got.body), secret) {
					t.Errorf("problem body echoes the value %q: %s", secret, got.body)
				}
			}
			rej := h.obs.rejs[len(h.obs.rejs)-1]
			if rej.step != Step || rej.typ != wantType {
				t.Errorf("observer got %+v", rej)
			}
		})
	}
}

func TestProblemDetailListsEveryFailingField(t *testing.T) {
	h := fastapiHarness(t)
	got := h.do("POST", "/items/", "application/json", `{"name":"","price":-1,"category":"x","sku":"s","quantity":"3","extra":1}`)
	_, detail := got.problem()
	for _, p := range []string{"/body/name: ", "/body/price: ", "/body/category: ", "/body/sku: ", "/body/quantity: ", "/body/extra: "} {
		if !strings.Contains(detail, p) {
			t.Errorf("detail %q lacks %s", detail, p)
		}
	}
	if ve, ok := h.obs.rejs[len(h.obs.rejs)-1].err.(*ValidationError); !ok || len(ve.Pointers()) != 6 {
		t.Errorf("Rejection.Err = %#v, want a *ValidationError with 6 problems", h.obs.rejs[len(h.obs.rejs)-1].err)
	}
}

func TestUnknownFieldsAllow(t *testing.T) {
	h := fastapiHarness(t, func(c *Config) { c.UnknownFields = "allow" })
	if got := h.do("POST", "/items/", "application/json", strings.Replace(validItem, `"name"`, `"extra":1,"name"`, 1)); got.status != 200 {
		t.Errorf("unknown field with unknown_fields: allow → %d %s", got.status, got.body)
	}
	if got := h.do("GET", "/items/?utm_source=x", "", ""); got.status != 200 {
		t.Errorf("unknown query parameter with unknown_fields: allow → %d", got.status)
	}
	// Case twins stay refused: Go's encoding/json would bind "Price" to price.
	if got := h.do("POST", "/items/", "application/json", strings.Replace(validItem, `"price"`, `"Price"`, 1)); got.status != 400 {
		t.Errorf("case twin with unknown_fields: allow → %d", got.status)
	}
}

func TestUndocumentedOperations(t *testing.T) {
	h := fastapiHarness(t)
	tests := []struct {
		method, target string
		status         int
		allow          string
	}{
		{"GET", "/admin", 404, ""},
		{"GET", "/items", 404, ""}, // FastAPI's path is /items/ (trailing slash significant)
		{"GET", "/items/5/secret", 404, ""},
		{"PUT", "/items/5", 405, "DELETE, GET, PATCH"},
		{"HEAD", "/items/5", 405, "DELETE, GET, PATCH"},
		{"DELETE", "/items/", 405, "GET, POST"},
	}
	for _, tt := range tests {
		before := h.up.count()
		got := h.do(tt.method, tt.target, "", "")
		if got.status != tt.status || got.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s → %d Allow %q, want %d %q", tt.method, tt.target, got.status, got.header.Get("Allow"), tt.status, tt.allow)
		}
		if h.up.count() != before {
			t.Errorf("%s %s reached the upstream", tt.method, tt.target)
		}
	}
	open := fastapiHarness(t, func(c *Config) { c.RejectUndocumented = false })
	if got := open.do("GET", "/admin", "", ""); got.status != 200 || open.up.count() != 1 {
		t.Errorf("reject_undocumented: false → %d, upstream %d", got.status, open.up.count())
	}
}

func TestValidationOffOnlyMatches(t *testing.T) {
	h := fastapiHarness(t, func(c *Config) { c.ValidateRequests = false })
	if got := h.do("POST", "/items/", "text/plain", "anything"); got.status != 200 {
		t.Errorf("validate_requests: false still validated: %d", got.status)
	}
	if got := h.do("GET", "/nope", "", ""); got.status != 404 {
		t.Errorf("reject_undocumented without validation: %d", got.status)
	}
}

func TestLegacyFastAPI30(t *testing.T) {
	h := newHarness(t, Config{Name: "legacy", Spec: "testdata/fastapi-0.95-openapi.json", ValidateRequests: true, RejectUndocumented: true}, nil)
	body := `{"name":"x","price":1,"category":"books","sku":"AB-123"}`
	if got := h.do("POST", "/items/", "application/json", body); got.status != 200 {
		t.Fatalf("valid 3.0 request → %d %s", got.status, got.body)
	}
	for _, tt := range []struct{ body, pointer string }{
		{strings.Replace(body, `"price":1`, `"price":0`, 1), "/body/price"}, // pydantic v1 numeric exclusiveMinimum in a 3.0 document
		{strings.Replace(body, `"price":1`, `"price":1000000`, 1), "/body/price"},
		{strings.Replace(body, `"sku"`, `"admin":true,"sku"`, 1), "/body/admin"},
		{strings.Replace(body, `"x"`, `null`, 1), "/body/name"}, // 3.0 without nullable: null is not a string
	} {
		got := h.do("POST", "/items/", "application/json", tt.body)
		if _, detail := got.problem(); got.status != 400 || !strings.Contains(detail, tt.pointer) {
			t.Errorf("%s → %d %s", tt.body, got.status, detail)
		}
	}
	if h.up.count() != 1 {
		t.Errorf("upstream saw %d requests, want 1", h.up.count())
	}
}

func TestOpenAPI31Document(t *testing.T) {
	h := newHarness(t, Config{Name: "orders", Spec: "testdata/orders-3.1.yaml", ValidateRequests: true, RejectUndocumented: true}, nil)
	order := `{"customer":"ACME","lines":[{"sku":"A-1","qty":2,"price":{"amount":"9.99","currency":"EUR"}}],` +
		`"payment":{"method":"card","last4":"4242","token":"tok_1"},"shipping":{"line1":"1 Main St","city":"Utrecht","country":"NL"},` +
		`"coupon":null,"metadata":{"x-source":"web"},"quantities":{"A-1":2},"gift":true,"gift_message":"Enjoy"}`
	account := `{"email":"a@example.com","password":"correct horse battery","kind":"person","tags":["a","b"]}`
	ok := []struct{ method, target, ctype, body string }{
		{"GET", "/api/v2/orders?page=2&status=paid|shipped&filter[customer]=ACME&filter[min_total]=10", "", ""},
		{"GET", "/api/v2/orders?filter[customer]=12345", "", ""}, // a string property stays a string
		{"GET", "/api/v2/orders?api_key=k123", "", ""},           // a security scheme's query credential is not unknown
		{"POST", "/api/v2/orders", "application/json", order},
		{"POST", "/api/v2/orders", "application/json", strings.Replace(order, `{"method":"card","last4":"4242","token":"tok_1"}`, `{"method":"bank","iban":"NL91ABNA0417164300"}`, 1)},
		{"GET", "/api/v2/orders/ord_0123abcd", "", ""},
		{"GET", "/api/v2/orders/ord_0123abcd/lines/3?fields=%5B%22sku%22%2C%22qty%22%5D", "", ""},
		{"PUT", "/api/v2/orders/ord_0123abcd", "text/plain", "leave at the door"},
		{"POST", "/api/v2/accounts", "application/json", account},
		{"POST", "/api/v2/accounts", "application/json", strings.Replace(account, `"person"`, `"company","vat_id":"NL123"`, 1)},
		{"GET", "/api/v2/ping", "", ""},
	}
	for _, tt := range ok {
		got := h.do(tt.method, tt.target, tt.ctype, tt.body, "X-Trace-Tags: alpha, beta")
		if got.status != 200 {
			_, d := got.problem()
			t.Errorf("%s %s → %d %s", tt.method, tt.target, got.status, d)
		}
	}
	bad := []struct{ method, target, ctype, body, pointer string }{
		{"GET", "/orders", "", "", ""}, // without the servers[] base path
		{"GET", "/api/v2/orders?status=paid|paid", "", "", "/query/status: items must be unique"},
		{"GET", "/api/v2/orders?status=lost", "", "", "/query/status/0"},
		{"GET", "/api/v2/orders?filter[owner]=me", "", "", "/query/filter/owner: unknown property"},
		{"GET", "/api/v2/orders?filter[min_total]=-1", "", "", "/query/filter/min_total: must be at least 0"},
		{"GET", "/api/v2/orders?filter[customer]=a&filter[customer]=b", "", "", "/query/filter/customer: repeated property"},
		{"GET", "/api/v2/orders?page=0", "", "", "/query/page"},
		{"GET", "/api/v2/orders/ord_XYZ", "", "", "/path/orderId: does not match"},
		{"GET", "/api/v2/orders/ord_0123abcd/lines/1001", "", "", "/path/line"},
		{"GET", "/api/v2/orders/ord_0123abcd/lines/3?fields=%5B%22cost%22%5D", "", "", "/query/fields/0"},
		{"GET", "/api/v2/orders/ord_0123abcd/lines/3?fields=%5B%5D", "", "", "/query/fields: fewer than 1 items"},
		{"POST", "/api/v2/orders", "application/json", strings.Replace(order, `"last4":"4242"`, `"last4":"42"`, 1), "/body/payment"},
		{"POST", "/api/v2/orders", "application/json", strings.Replace(order, `"method":"card"`, `"method":"cash"`, 1), "/body/payment"},
		{"POST", "/api/v2/orders", "application/json", strings.Replace(order, `"x-source"`, `"source"`, 1), "/body/metadata/source: unknown property"},
		{"POST", "/api/v2/orders", "application/json", strings.Replace(order, `{"A-1":2}`, `{"A-1":-2}`, 1), "/body/quantities/A-1"},
		{"POST", "/api/v2/orders", "application/json", strings.Replace(order, `"gift":true,`, ``, 1), "/body/gift: required when"},
		{"POST", "/api/v2/orders", "application/json", strings.Replace(order, `"qty":2`, `"qty":0`, 1), "/body/lines/0/qty: must be greater than 0"},
		{"POST", "/api/v2/orders", "application/json", strings.Replace(order, `"EUR"`, `"BTC"`, 1), "/body/lines/0/price/currency"},
		{"POST", "/api/v2/orders", "application/json", strings.Replace(order, `"ACME"`, `"ACME","status":"paid"`, 1), "/body/status: unknown property"},
		{"POST", "/api/v2/accounts", "application/json", strings.Replace(account, `{`, `{"id":"0b7f3c4e-9d7a-4e8b-b1a2-6f3c2d1e0a9b",`, 1), "/body/id: read-only property"},
		{"POST", "/api/v2/accounts", "application/json", strings.Replace(account, `"person"`, `"company"`, 1), "/body/vat_id: required"},
		{"POST", "/api/v2/accounts", "application/json", strings.Replace(account, `["a","b"]`, `["a","a"]`, 1), "/body/tags: items must be unique"},
		{"PUT", "/api/v2/orders/ord_0123abcd", "application/json", `"x"`, ""},
	}
	for _, tt := range bad {
		before := h.up.count()
		got := h.do(tt.method, tt.target, tt.ctype, tt.body, "X-Trace-Tags: alpha")
		_, detail := got.problem()
		if got.status < 400 || h.up.count() != before || !strings.Contains(detail, tt.pointer) {
			t.Errorf("%s %s %.60s → %d %q, want a refusal naming %q", tt.method, tt.target, tt.body, got.status, detail, tt.pointer)
		}
	}
	if got := h.do("GET", "/api/v2/orders", "", "", "X-Trace-Tags: Alpha"); got.status != 400 {
		t.Errorf("header array item pattern → %d", got.status)
	}
	if got := h.do("GET", "/api/v2/orders", "", "", "X-Trace-Tags: a,b,c,d"); got.status != 400 {
		t.Errorf("header array maxItems → %d", got.status)
	}
	// unevaluatedProperties: false holds even with unknown_fields: allow.
	lax := newHarness(t, Config{Name: "orders", Spec: "testdata/orders-3.1.yaml", ValidateRequests: true, UnknownFields: "allow"}, nil)
	if got := lax.do("POST", "/api/v2/orders", "application/json", strings.Replace(order, `"ACME"`, `"ACME","status":"paid"`, 1)); got.status != 400 {
		t.Errorf("unevaluatedProperties: false with unknown_fields: allow → %d", got.status)
	}
	if got := lax.do("GET", "/api/v2/orders?utm=1", "", ""); got.status != 200 {
		t.Errorf("unknown query parameter with allow → %d", got.status)
	}
}

// TestRequestBodyIsForwardedIntact checks the body the upstream receives:
// same bytes, same Content-Length, after validation read it.
func TestRequestBodyIsForwardedIntact(t *testing.T) {
	h := fastapiHarness(t)
	got := h.do("POST", "/items/", "application/json", validItem)
	if got.status != 200 {
		t.Fatalf("status %d", got.status)
	}
	s := h.up.last()
	if string(s.Body) != validItem {
		t.Errorf("body changed: %q", s.Body)
	}
	if cl := s.Header.Get("Content-Length"); cl != "" && cl != itoa(len(validItem)) {
		t.Errorf("Content-Length %s, want %d", cl, len(validItem))
	}
	// The response filter asks for an identity body.
	if ae := s.Header.Get("Accept-Encoding"); ae != "" {
		t.Errorf("upstream saw Accept-Encoding %q with filtering on", ae)
	}
	_ = http.StatusOK
}
