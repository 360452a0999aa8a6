package openapi

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// respondJSON answers every request with status and body.
func respondJSON(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for _, hv := range header {
			k, v, _ := strings.Cut(hv, ": ")
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

const storedItem = `{"id":5,"name":"Chair","description":null,"price":249.99,"quantity":3,"category":"furniture",` +
	`"tags":["office"],"sku":"CH-1234","dimensions":{"width_cm":66.5,"height_cm":118,"depth_cm":64},` +
	`"created_at":"2024-03-01T09:00:00Z","owner_id":"0b7f3c4e-9d7a-4e8b-b1a2-6f3c2d1e0a9b"}`

func TestStripRemovesUndeclaredFieldsAtEveryDepth(t *testing.T) {
	leaky := strings.Replace(storedItem, `"id":5,`, `"id":5,"internal_cost":80.1,"supplier":{"name":"Seats","margin":0.4},`, 1)
	leaky = strings.Replace(leaky, `"depth_cm":64}`, `"depth_cm":64,"warehouse_bin":"A-17"}`, 1)
	tests := []struct {
		name, target string
		status       int
		upstream     string
		want         string
		fields       []string
	}{
		{"top level and nested object", "/items/5", 200, leaky, storedItem, []string{"/internal_cost", "/supplier", "/dimensions/warehouse_bin"}},
		{"inside array items", "/items/", 200, "[" + leaky + "," + leaky + "]", "[" + storedItem + "," + storedItem + "]", []string{"/*/internal_cost", "/*/supplier", "/*/dimensions/warehouse_bin"}},
		{"documented error response", "/items/5", 404, `{"detail":"Item not found","trace":"File app.py, line 12"}`, `{"detail":"Item not found"}`, []string{"/trace"}},
		{"undocumented 4xx declares nothing", "/items/5", 409, `{"detail":"conflict","row":{"id":5,"secret":"x"}}`, `{}`, []string{"/detail", "/row"}},
		{"conforming response untouched", "/items/5", 200, storedItem, storedItem, nil},
		{"malformed Content-Type parameters", "/items/5", 200, leaky, storedItem, []string{"/internal_cost", "/supplier", "/dimensions/warehouse_bin"}},
		{"JSON without a Content-Type is still filtered", "/items/5", 200, leaky, storedItem, []string{"/internal_cost", "/supplier", "/dimensions/warehouse_bin"}},
		{"schema {} declares anything", "/health", 200, `{"status":"ok","db":{"latency_ms":3}}`, `{"status":"ok","db":{"latency_ms":3}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fastapiHarness(t)
			h.up.respond = respondJSON(tt.status, tt.upstream, "ETag: \"v1\"", "Set-Cookie: s=1")
			if strings.Contains(tt.name, "malformed") {
				h.up.respond = respondJSON(tt.status, tt.upstream, "Content-Type: Application/JSON;;charset")
			}
			if strings.Contains(tt.name, "without a Content-Type") {
				h.up.respond = func(w http.ResponseWriter, r *http.Request) {
					w.Header()["Content-Type"] = nil // no sniffing by net/http either
					_, _ = w.Write([]byte(tt.upstream))
				}
			}
			got := h.do("GET", tt.target, "", "")
			if got.status != tt.status {
				t.Fatalf("status %d, want %d: %s", got.status, tt.status, got.body)
			}
			sameJSON(t, got.body, tt.want)
			if cl := got.header.Get("Content-Length"); cl != strconv.Itoa(len(got.body)) {
				t.Errorf("Content-Length %q for a %d-byte body", cl, len(got.body))
			}
			evs := h.obs.events()
			if tt.fields == nil {
				if len(evs) != 0 {
					t.Errorf("events %+v for a conforming response", evs)
				}
				if string(got.body) != tt.upstream {
					t.Errorf("conforming body was rewritten: %s", got.body)
				}
				return
			}
			if len(evs) != 1 || evs[0].Action != ResponseStripped || !reflect.DeepEqual(evs[0].Fields, tt.fields) {
				t.Fatalf("events %+v, want stripped %v", evs, tt.fields)
			}
			if evs[0].Document != "inventory" || evs[0].Status != tt.status || !strings.HasSuffix(evs[0].Operation, "_get") {
				t.Errorf("event %+v", evs[0])
			}
			for _, f := range evs[0].Fields {
				if strings.Contains(f, "A-17") || strings.Contains(f, "80.1") {
					t.Errorf("event leaks a value: %q", f)
				}
			}
			if got.header.Get("Etag") != "" {
				t.Error("ETag of the unfiltered representation kept")
			}
		})
	}
}

func TestStripThrough31Composition(t *testing.T) {
	order := `{"id":"ord_1","status":"paid","total":{"amount":"19.98","currency":"EUR","fx_rate":1.1},` +
		`"customer":"ACME","lines":[{"sku":"A-1","qty":2,"price":{"amount":"9.99","currency":"EUR"},"cost":"4.10"}],` +
		`"payment":{"method":"card","last4":"4242","token":"tok_secret","cvv":"123"},` +
		`"shipping":{"line1":"1 Main St","city":"Utrecht","country":"NL","geo":{"lat":52}},` +
		`"metadata":{"x-source":"web","internal":"y"},"quantities":{"A-1":2},"position":[1,2],"risk_score":0.93}`
	want := `{"id":"ord_1","status":"paid","total":{"amount":"19.98","currency":"EUR"},` +
		`"customer":"ACME","lines":[{"sku":"A-1","qty":2,"price":{"amount":"9.99","currency":"EUR"}}],` +
		`"payment":{"method":"card","last4":"4242"},` +
		`"shipping":{"line1":"1 Main St","city":"Utrecht","country":"NL"},` +
		`"metadata":{"x-source":"web"},"quantities":{"A-1":2},"position":[1,2]}`
	h := newHarness(t, Config{Name: "orders", Spec: "testdata/orders-3.1.yaml", FilterResponses: FilterStrip}, respondJSON(200, order))
	got := h.do("GET", "/api/v2/orders/ord_0123abcd", "", "")
	sameJSON(t, got.body, want)
	evs := h.obs.events()
	wantFields := []string{"/total/fx_rate", "/lines/*/cost", "/payment/token", "/payment/cvv", "/shipping/geo", "/metadata/internal", "/risk_score"}
	if len(evs) != 1 || !reflect.DeepEqual(evs[0].Fields, wantFields) {
		t.Errorf("fields %+v, want %v", evs, wantFields)
	}

	// The discriminator picks the branch: a bank payment keeps iban and
	// loses the card's fields.
	bank := strings.Replace(order, `{"method":"card","last4":"4242","token":"tok_secret","cvv":"123"}`, `{"method":"bank","iban":"NL91ABNA0417164300","last4":"4242"}`, 1)
	h.up.respond = respondJSON(200, bank)
	got = h.do("GET", "/api/v2/orders/ord_0123abcd", "", "")
	var o struct{ Payment map[string]any }
	_ = json.Unmarshal(got.body, &o)
	if _, ok := o.Payment["iban"]; !ok || o.Payment["last4"] != nil {
		t.Errorf("bank payment → %v", o.Payment)
	}

	// writeOnly properties never leave: the password echoed on create.
	h.up.respond = respondJSON(201, `{"id":"0b7f3c4e-9d7a-4e8b-b1a2-6f3c2d1e0a9b","email":"a@example.com","password":"hunter22hunter22","kind":"person"}`)
	got = h.do("POST", "/api/v2/accounts", "application/json", `{}`)
	sameJSON(t, got.body, `{"id":"0b7f3c4e-9d7a-4e8b-b1a2-6f3c2d1e0a9b","email":"a@example.com","kind":"person"}`)
}

func TestRejectModeAnswers502(t *testing.T) {
	leaky := strings.Replace(storedItem, `"id":5,`, `"id":5,"password_hash":"$2b$12$abc",`, 1)
	h := fastapiHarness(t, func(c *Config) { c.FilterResponses = FilterReject })
	h.up.respond = respondJSON(200, leaky, "Set-Cookie: session=abc", "X-Internal: 1")
	got := h.do("GET", "/items/5", "", "")
	typ, _ := got.problem()
	if got.status != 502 || typ != TypeResponseInvalid {
		t.Fatalf("leaking response → %d %s", got.status, got.body)
	}
	if strings.Contains(string(got.body), "abc") || got.header.Get("Set-Cookie") != "" || got.header.Get("X-Internal") != "" {
		t.Errorf("the rejected response leaks: %v %s", got.header, got.body)
	}
	rej := h.obs.rejs[len(h.obs.rejs)-1]
	if rej.status != 502 || !strings.Contains(rej.err.Error(), "/password_hash") || strings.Contains(rej.err.Error(), "$2b$") {
		t.Errorf("observer got %+v", rej)
	}
	if evs := h.obs.events(); len(evs) != 1 || evs[0].Action != ResponseRejected || evs[0].Fields[0] != "/password_hash" {
		t.Errorf("events %+v", evs)
	}
	h.up.respond = respondJSON(200, storedItem)
	if got := h.do("GET", "/items/5", "", ""); got.status != 200 || string(got.body) != storedItem {
		t.Errorf("conforming response in reject mode → %d %s", got.status, got.body)
	}
}

func TestResponsesThatPassUnfiltered(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		respond http.HandlerFunc
		body    string
		event   ResponseAction
	}{
		{"non-JSON body", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(`{"secret":1}`))
		}, `{"secret":1}`, ""},
		{"5xx without a documented status", nil, respondJSON(500, `{"trace":"x"}`), `{"trace":"x"}`, ""},
		{"4xx with pass_undocumented_errors", func(c *Config) { c.PassUndocumentedErrors = true }, respondJSON(409, `{"detail":"taken"}`), `{"detail":"taken"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fastapiHarness(t, func(c *Config) {
				if tt.mutate != nil {
					tt.mutate(c)
				}
			})
			h.up.respond = tt.respond
			got := h.do("GET", "/items/5", "", "")
			if string(got.body) != tt.body {
				t.Errorf("body %.80q, want it untouched", got.body)
			}
			evs := h.obs.events()
			if tt.event == "" && len(evs) != 0 || tt.event != "" && (len(evs) != 1 || evs[0].Action != tt.event) {
				t.Errorf("events %+v, want %q", evs, tt.event)
			}
		})
	}
}

func TestUnfilterableJSONFailsClosed(t *testing.T) {
	tests := []struct {
		name    string
		respond http.HandlerFunc
	}{
		{"gzip-encoded JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = zw.Write([]byte(`{"secret":1}`))
			_ = zw.Close()
		}},
		{"NaN from Python's json.dumps", respondJSON(200, `{"id":5,"price":NaN}`)},
		{"duplicate keys", respondJSON(200, `{"id":5,"id":6}`)},
	}
	for _, tt := range tests {
		for _, mode := range []string{FilterStrip, FilterReject} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				h := fastapiHarness(t, func(c *Config) { c.FilterResponses = mode })
				h.up.respond = tt.respond
				got := h.do("GET", "/items/5", "", "", "Accept-Encoding: gzip")
				if got.status != 502 || strings.Contains(string(got.body), "secret") {
					t.Errorf("→ %d %q", got.status, got.body)
				}
			})
		}
	}
}

// TestStreamsPassThroughAsTheyArrive: a server-sent event reaches the
// client before the upstream finishes, through the filter and the proxy.
func TestStreamsPassThroughAsTheyArrive(t *testing.T) {
	release := make(chan struct{})
	h := fastapiHarness(t)
	h.up.respond = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("data: one\n\n"))
		http.NewResponseController(w).Flush()
		<-release
		_, _ = w.Write([]byte("data: two\n\n"))
	}
	resp, err := http.Get(h.front.URL + "/items/5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	close(release)
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
}

// TestResponseControllerThroughTheFilter: steps that wrap the writer after
// this one (or the proxy) use http.ResponseController; deadlines reach the
// connection through Unwrap, and a Flush while the body is held back does
// not commit the unfiltered headers.
func TestResponseControllerThroughTheFilter(t *testing.T) {
	doc, err := Load(context.Background(), Config{Name: "inventory", Spec: fastapi, FilterResponses: FilterStrip}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var deadlineErr, flushErr error
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		deadlineErr = rc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"id":5,"leak":`))
		flushErr = rc.Flush()
		_, _ = w.Write([]byte(`true}`))
	})
	h := doc.Middleware(Deps{})(next)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, pipeline.WithInfo(r, &pipeline.Info{Path: r.URL.Path}))
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/items/5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&got)
	if deadlineErr != nil || flushErr != nil {
		t.Errorf("ResponseController: deadline %v, flush %v", deadlineErr, flushErr)
	}
	if _, leaked := got["leak"]; leaked || got["id"] != 5.0 || resp.ContentLength != int64(len(`{"id":5}`)) {
		t.Errorf("got %v (Content-Length %d)", got, resp.ContentLength)
	}
	var fw http.ResponseWriter = &filterWriter{ResponseWriter: httptest.NewRecorder()}
	if _, ok := fw.(interface{ Unwrap() http.ResponseWriter }); !ok {
		t.Error("filterWriter has no Unwrap")
	}
	_ = slices.Contains[[]string]
}
