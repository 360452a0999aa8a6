package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// The fuzz target sends arbitrary bodies to FastAPI's create_item operation
// and checks every body Rampart accepts with two checkers that share no
// code with it: a hand-written check of the ItemCreate model over
// encoding/json, and santhosh-tekuri/jsonschema (a JSON Schema 2020-12
// validator, the one inside libopenapi-validator) compiling the same
// schema from the same document. Both only say what a schema allows;
// Rampart refuses more on purpose (unknown properties, duplicate keys,
// case twins...), so the check is one-way: accepted by Rampart ⇒ accepted
// by them.

var (
	fuzzOnce   sync.Once
	fuzzEnf    *enforcer
	itemSchema *jsonschema.Schema
)

func fuzzSetup(t testing.TB) {
	fuzzOnce.Do(func() {
		d, err := Load(context.Background(), Config{Name: "inventory", Spec: fastapi, ValidateRequests: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		fuzzEnf = d.Middleware(Deps{})(http.NotFoundHandler()).(*enforcer)
		spec, err := os.ReadFile(fastapi)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(spec))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("file:///fastapi.json", doc); err != nil {
			t.Fatal(err)
		}
		itemSchema, err = c.Compile("file:///fastapi.json#/components/schemas/ItemCreate")
		if err != nil {
			t.Fatal(err)
		}
	})
}

func postItem(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/items/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return pipeline.WithInfo(r, &pipeline.Info{Path: "/items/"})
}

// rampartAccepts runs Rampart's validation of a create_item body.
func rampartAccepts(body []byte) (bool, string) {
	r := postItem(body)
	op := fuzzEnf.d.ops[0]
	for _, o := range fuzzEnf.d.ops {
		if o.id == "create_item_items__post" {
			op = o
		}
	}
	rej := fuzzEnf.validate(r, op, nil)
	if rej != nil {
		return false, rej.Detail
	}
	got, _ := io.ReadAll(r.Body)
	if !bytes.Equal(got, body) {
		return false, "body not restored"
	}
	return true, ""
}

func FuzzRequestBody(f *testing.F) {
	fuzzSetup(f)
	for _, s := range []string{validItem, `{"name":"x","price":1,"category":"books","sku":"AB-123"}`,
		`{"name":"x","price":1,"category":"books","sku":"AB-123","name":"y"}`, `{"name":"x","Price":1,"category":"books","sku":"AB-123"}`,
		`{"name":"x","price":1e400,"category":"books","sku":"AB-123"}`, `{"name":"\ud800","price":1,"category":"books","sku":"AB-123"}`,
		`{"name":"x","price":1,"category":"books","sku":"AB-123","dimensions":{"width_cm":1,"height_cm":1,"depth_cm":1}}`,
		`{"name":"x","price":1,"category":"books","sku":"AB-123","quantity":2.0,"tags":["a"]}`, `[]`, `null`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ok, detail := rampartAccepts(body)
		if detail == "body not restored" {
			t.Fatal(detail)
		}
		oracle := itemCreateValid(body)
		if ok && oracle != "" {
			t.Fatalf("Rampart accepted %q; the independent check says %s", body, oracle)
		}
		if ok {
			if err := schemaValidates(body); err != nil {
				t.Fatalf("Rampart accepted %q; jsonschema refuses it: %v", body, err)
			}
		}
		// The other way round, for bodies outside the deliberate
		// hardening (escapes, duplicates, depth, invalid UTF-8):
		if !ok && oracle == "" && !bytes.Contains(body, []byte(`\u`)) && utf8.Valid(body) && noDuplicateKeys(body) {
			t.Fatalf("Rampart refused the valid body %q: %s", body, detail)
		}
	})
}

// itemCreateValid checks ItemCreate by hand and returns "" when valid.
func itemCreateValid(body []byte) string {
	if !json.Valid(body) || !utf8.Valid(body) {
		return "not valid JSON"
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "not valid JSON"
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "not an object"
	}
	allowed := map[string]bool{"name": true, "description": true, "price": true, "quantity": true, "category": true, "tags": true, "sku": true, "dimensions": true}
	for k := range m {
		if !allowed[k] {
			return "unknown property " + k
		}
	}
	for _, k := range []string{"name", "price", "category", "sku"} {
		if _, ok := m[k]; !ok {
			return "missing " + k
		}
	}
	str := func(x any, lo, hi int) bool {
		s, ok := x.(string)
		n := utf8.RuneCountInString(s)
		return ok && n >= lo && n <= hi
	}
	num := func(x any) (float64, bool) {
		n, ok := x.(json.Number)
		if !ok {
			return 0, false
		}
		f, err := n.Float64()
		return f, err == nil && !math.IsInf(f, 0)
	}
	if !str(m["name"], 1, 100) {
		return "name"
	}
	if d, ok := m["description"]; ok && d != nil && !str(d, 0, 1000) {
		return "description"
	}
	if p, ok := num(m["price"]); !ok || p <= 0 || p > 1e6 {
		return "price"
	}
	if q, ok := m["quantity"]; ok {
		f, ok := num(q)
		if !ok || f != math.Trunc(f) || f < 0 || f > 100000 {
			return "quantity"
		}
	}
	switch m["category"] {
	case "furniture", "electronics", "books":
	default:
		return "category"
	}
	if tags, ok := m["tags"]; ok {
		list, ok := tags.([]any)
		if !ok || len(list) > 10 {
			return "tags"
		}
		for _, tg := range list {
			if !str(tg, 0, 30) {
				return "tag"
			}
		}
	}
	if !isSKU(m["sku"]) {
		return "sku"
	}
	if d, ok := m["dimensions"]; ok && d != nil {
		dm, ok := d.(map[string]any)
		if !ok || len(dm) != 3 {
			return "dimensions"
		}
		for _, k := range []string{"width_cm", "height_cm", "depth_cm"} {
			if f, ok := num(dm[k]); !ok || f <= 0 {
				return "dimensions." + k
			}
		}
	}
	return ""
}

// isSKU matches ^[A-Z]{2,4}-[0-9]{3,6}$ without a regexp engine.
func isSKU(x any) bool {
	s, ok := x.(string)
	if !ok {
		return false
	}
	letters, rest, ok := strings.Cut(s, "-")
	if !ok || len(letters) < 2 || len(letters) > 4 || len(rest) < 3 || len(rest) > 6 {
		return false
	}
	for _, c := range []byte(letters) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	for _, c := range []byte(rest) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// noDuplicateKeys reports whether no object in body repeats a key, and the
// nesting stays shallow, using encoding/json's tokenizer.
func noDuplicateKeys(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		keys   map[string]bool
		obj    bool
		expect bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top != nil && top.obj {
					top.expect = true
				}
				stack = append(stack, &frame{keys: map[string]bool{}, obj: d == '{', expect: d == '{'})
				if len(stack) > 32 {
					return false
				}
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].expect = true
				}
			}
			continue
		}
		if top != nil && top.obj {
			if top.expect {
				k := tok.(string)
				if top.keys[k] {
					return false
				}
				top.keys[k] = true
				top.expect = false
			} else {
				top.expect = true
			}
		}
	}
}

func schemaValidates(body []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	return itemSchema.Validate(inst)
}

// TestAgreesWithJSONSchemaValidator runs a corpus through both validators:
// whatever Rampart accepts, jsonschema accepts too; what Rampart refuses
// beyond it is marked (the deliberate hardening).
func TestAgreesWithJSONSchemaValidator(t *testing.T) {
	fuzzSetup(t)
	item := func(repl ...string) string { return strings.NewReplacer(repl...).Replace(validItem) }
	corpus := []struct {
		body     string
		stricter bool // Rampart refuses on purpose; libopenapi-validator may accept
	}{
		{validItem, false},
		{item(`"quantity":3`, `"quantity":3.0`), false},
		{item(`249.99`, `"249.99"`), false},
		{item(`"sku":"CH-1234",`, ``), false},
		{item(`CH-1234`, `ch-1234`), false},
		{item(`furniture`, `food`), false},
		{item(`"width_cm":66.5`, `"width_cm":-1`), false},
		{item(`"name"`, `"is_admin":true,"name"`), true},                  // unknown property (mass assignment)
		{item(`"price"`, `"Price"`), true},                                // case twin (and missing price)
		{item(`"name":"Ergonomic chair"`, `"name":"a","name":"b"`), true}, // duplicate key
		{item(`"depth_cm":64`, `"depth_cm":64,"x":1`), true},
		{validItem + `{}`, true}, // trailing data
	}
	for _, c := range corpus {
		ok, detail := rampartAccepts([]byte(c.body))
		libErr := schemaValidates([]byte(c.body))
		if ok && libErr != nil {
			t.Errorf("Rampart accepts, jsonschema refuses %q: %v", c.body, libErr)
		}
		if !ok && libErr == nil && !c.stricter {
			t.Errorf("Rampart refuses what jsonschema accepts %q: %s", c.body, detail)
		}
		if !c.stricter && (itemCreateValid([]byte(c.body)) == "") != ok {
			t.Errorf("Rampart (%v) and the hand-written check disagree on %q", ok, c.body)
		}
	}
}
