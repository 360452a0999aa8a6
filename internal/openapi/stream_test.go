package openapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-gw/rampart/internal/openapi/strictjson"
)

const streamSpec = "testdata/stream-filter.yaml"

var (
	streamOnce sync.Once
	streamD    *Document
)

// streamSchema is the 200 response schema of an operation of streamSpec.
func streamSchema(t testing.TB, opID string) *schema {
	streamOnce.Do(func() {
		d, err := Load(context.Background(), Config{Name: "users", Spec: streamSpec}, nil)
		if err != nil {
			t.Fatal(err)
		}
		streamD = d
	})
	for _, op := range streamD.ops {
		if op.id == opID {
			return matchJSONMedia(op.response(200).media, "application/json").s
		}
	}
	t.Fatalf("no operation %s", opID)
	return nil
}

// filterBuffered is what finish does to a body, compacted.
func filterBuffered(root *schema, body []byte) (out []byte, fields []string, wrong string, err error) {
	st := getState()
	defer putState(st)
	if err := st.doc.Parse(body, strictjson.Options{MaxDepth: responseMaxDepth}); err != nil {
		return nil, nil, "", err
	}
	s := &stripper{c: &st.c, flags: st.flags(st.doc.Nodes())}
	s.c.reset(modeResponse, true)
	s.walk([]*schema{root}, st.doc.Root())
	var buf bytes.Buffer
	if err := json.Compact(&buf, s.emit(nil, st.doc.Root())); err != nil {
		return nil, nil, "", err
	}
	return buf.Bytes(), s.fields, s.wrong, nil
}

func filterStreaming(root *schema, body io.Reader, out io.Writer, reject bool, max int) (fields []string, wrong string, err error) {
	st := &streamer{in: bufio.NewReader(body), out: bufio.NewWriter(out), reject: reject, max: max}
	err = st.run(root)
	return st.fields, st.wrong, err
}

const oneUser = `{"id":1,"name":"ann","password_hash":"$2b$12$x","profile":{"bio":"b","site":"s","ssn":"1"},` +
	`"tags":["a"],"labels":{"k":{"v":1,"secret":2}},"point":[1.5,{"x":1,"y":2},{"z":3}],"extra":{"any":{"thing":1}}}`

var streamCases = []struct{ name, op, body string }{
	{"list with leaks at every depth", "list_users", "[" + oneUser + " ,\n " + oneUser + "]"},
	{"conforming list", "list_users", `[{"id":1,"name":"ann","profile":null,"tags":[]}]`},
	{"writeOnly password removed", "list_users", `[{"id":1,"password":"hunter2"}]`},
	{"escaped keys", "list_users", `[{"\u0069d":1,"pass\u0077ord_hash":"x","a\"b":1}]`},
	{"object where an array is declared", "list_users", `{"users":[{"id":1}]}`},
	{"string where an object is declared", "list_users", `["x",1,null,true]`},
	{"empty", "list_users", `[]`},
	{"duplicate keys", "list_users", `[{"id":1,"id":2}]`},
	{"duplicate keys in a removed member", "list_users", `[{"x":{"a":1,"a":2}}]`},
	{"NaN", "list_users", `[{"id":NaN}]`},
	{"1e400", "list_users", `[{"id":1e400}]`},
	{"lone surrogate", "list_users", `[{"name":"\ud800"}]`},
	{"trailing data", "list_users", `[] []`},
	{"trailing comma", "list_users", `[{"id":1},]`},
	{"truncated", "list_users", `[{"id":1`},
	{"leading zero", "list_users", `[{"id":01}]`},
	{"missing colon", "list_users", `[{"id" 1}]`},
	{"missing comma", "list_users", `[{"id":1 "name":"a"}]`},
	{"512 deep", "list_users", strings.Repeat("[", 512) + strings.Repeat("]", 512)},
	{"513 deep", "list_users", strings.Repeat("[", 513) + strings.Repeat("]", 513)},
}

// TestStreamingFilterMatchesBuffered: for the same schema and body, the
// streaming filter removes what the buffered one removes, writes the same
// JSON (without insignificant whitespace) and fails on the same inputs.
func TestStreamingFilterMatchesBuffered(t *testing.T) {
	for _, tt := range streamCases {
		t.Run(tt.name, func(t *testing.T) {
			sameAsBuffered(t, streamSchema(t, tt.op), []byte(tt.body))
		})
	}
}

func sameAsBuffered(t *testing.T, root *schema, body []byte) {
	t.Helper()
	want, wantFields, wantWrong, wantErr := filterBuffered(root, body)
	var got bytes.Buffer
	fields, wrong, err := filterStreaming(root, bytes.NewReader(body), &got, false, 1<<20)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: streaming error %v, buffered error %v", body, err, wantErr)
	}
	if err != nil {
		return
	}
	if got.String() != string(want) {
		t.Errorf("%q:\nstreaming %s\nbuffered  %s", body, got.Bytes(), want)
	}
	if fmt.Sprint(fields) != fmt.Sprint(wantFields) || wrong != wantWrong {
		t.Errorf("%q: streaming found %v %q, buffered %v %q", body, fields, wrong, wantFields, wantWrong)
	}
}

func FuzzStreamingFilter(f *testing.F) {
	for _, tt := range streamCases {
		f.Add(tt.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sameAsBuffered(t, streamSchema(t, "list_users"), []byte(body))
	})
}

func TestStreamableSchemas(t *testing.T) {
	if !streamable(streamSchema(t, "list_users")) {
		t.Error("users (nullable $ref via anyOf, allOf, maps, tuples) should stream")
	}
	if streamable(streamSchema(t, "list_pets")) {
		t.Error("pets (oneOf with a discriminator) needs lookahead and must not stream")
	}
	if !streamable(nothing) {
		t.Error("an undocumented response (nothing declared) should stream")
	}
}

// bigList writes a JSON list of n users, each with a password_hash.
type bigList struct {
	n, i int
	buf  []byte
	off  int
}

func (b *bigList) Read(p []byte) (int, error) {
	for b.off == len(b.buf) {
		b.buf, b.off = b.buf[:0], 0
		switch {
		case b.i == 0:
			b.buf = append(b.buf, '[')
		case b.i > b.n:
			return 0, io.EOF
		default:
			if b.i > 1 {
				b.buf = append(b.buf, ',')
			}
			b.buf = append(b.buf, oneUser...)
			if b.i == b.n {
				b.buf = append(b.buf, ']')
			}
		}
		b.i++
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	return n, nil
}

// leakCounter counts the bytes written and the password_hash among them.
type leakCounter struct {
	n    int64
	seam []byte // the last bytes written, and the first of the next write
	hits int
}

func (c *leakCounter) Write(p []byte) (int, error) {
	const name = "password_hash"
	c.n += int64(len(p))
	c.hits += bytes.Count(p, []byte(name))
	c.seam = append(c.seam, p[:min(len(p), len(name)-1)]...)
	c.hits += bytes.Count(c.seam, []byte(name))
	c.seam = append(c.seam[:0], p[max(0, len(p)-len(name)+1):]...)
	return len(p), nil
}

// A 5 MiB list with password_hash in every item is filtered in memory that
// does not grow with it: the filter allocates less than 256 KiB in all.
func TestStreamingFilterMemoryIsBounded(t *testing.T) {
	root := streamSchema(t, "list_users")
	n := 5 << 20 / len(oneUser)
	var before, after runtime.MemStats
	out := &leakCounter{seam: make([]byte, 0, 64)}
	runtime.GC()
	runtime.ReadMemStats(&before)
	fields, _, err := filterStreaming(root, &bigList{n: n}, out, false, 1<<20)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if out.hits != 0 || out.n < 1<<20 {
		t.Errorf("wrote %d bytes with %d password_hash", out.n, out.hits)
	}
	if !strings.Contains(fmt.Sprint(fields), "/*/password_hash") {
		t.Errorf("fields %v", fields)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<10 {
		t.Errorf("filtering %d MiB allocated %d bytes", n*len(oneUser)>>20, alloc)
	}
}

func usersHarness(t *testing.T, mutate func(*Config), respond http.HandlerFunc) *harness {
	cfg := Config{Name: "users", Spec: streamSpec, FilterResponses: FilterStrip, MaxResponseBytes: 4 << 10}
	if mutate != nil {
		mutate(&cfg)
	}
	return newHarness(t, cfg, respond)
}

func respondChunked(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i < len(body); i += 1000 {
			_, _ = io.WriteString(w, body[i:min(i+1000, len(body))])
			http.NewResponseController(w).Flush()
		}
	}
}

// Issue 15: responses larger than max_response_bytes used to pass through
// unfiltered; they are now filtered as they stream, or refused.
func TestOversizedResponsesNeverPassUnfiltered(t *testing.T) {
	list := "[" + strings.TrimSuffix(strings.Repeat(oneUser+",", 100), ",") + "]" // ~25 KiB
	want, _, _, _ := filterBuffered(streamSchema(t, "list_users"), []byte(list))
	for _, respond := range map[string]http.HandlerFunc{"Content-Length": respondJSON(200, list), "chunked": respondChunked(list)} {
		h := usersHarness(t, nil, respond)
		got := h.do("GET", "/users", "", "")
		if got.status != 200 || string(got.body) != string(want) {
			t.Fatalf("strip: %d %.200s", got.status, got.body)
		}
		if evs := h.obs.events(); len(evs) != 1 || evs[0].Action != ResponseStripped || !strings.Contains(fmt.Sprint(evs[0].Fields), "/*/password_hash") {
			t.Errorf("strip events %+v", evs)
		}
	}

	// Reject: the status line is out when the leak is found, so the
	// connection is cut before the undeclared member, and it is reported.
	h := usersHarness(t, func(c *Config) { c.FilterResponses = FilterReject }, respondChunked(list))
	req, _ := http.NewRequest("GET", h.front.URL+"/users", nil)
	if resp, err := h.front.Client().Do(req); err == nil {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil || strings.Contains(string(body), "password_hash") {
			t.Errorf("reject: the client read %d bytes (%v), leak %v", len(body), err, strings.Contains(string(body), "password_hash"))
		}
	}
	if evs := h.obs.events(); len(evs) != 1 || evs[0].Action != ResponseRejected || evs[0].Fields[0] != "/*/password_hash" {
		t.Errorf("reject events %+v", evs)
	}

	// gzip sent although Accept-Encoding was removed: refused before
	// anything is sent, as in memory.
	h = usersHarness(t, nil, respondJSON(200, list, "Content-Encoding: gzip"))
	if got := h.do("GET", "/users", "", ""); got.status != 502 || strings.Contains(string(got.body), "password_hash") {
		t.Errorf("gzip: %d %.200s", got.status, got.body)
	}

	// A schema that needs lookahead: refused by default, passed on request.
	pets := `[` + strings.Repeat(`{"kind":"cat","lives":9,"owner_ssn":"1"},`, 200) + `{"kind":"dog"}]`
	h = usersHarness(t, nil, respondJSON(200, pets))
	got := h.do("GET", "/pets", "", "")
	if typ, _ := got.problem(); got.status != 502 || typ != TypeResponseInvalid || strings.Contains(string(got.body), "owner_ssn") {
		t.Errorf("pets: %d %.200s", got.status, got.body)
	}
	if evs := h.obs.events(); len(evs) != 1 || evs[0].Action != ResponseRejected || !strings.Contains(evs[0].Reason, "oversized_responses") {
		t.Errorf("pets events %+v", evs)
	}
	h = usersHarness(t, func(c *Config) { c.OversizedResponses = OversizedPass }, respondJSON(200, pets))
	if got := h.do("GET", "/pets", "", ""); got.status != 200 || string(got.body) != pets {
		t.Errorf("pets with oversized_responses: pass: %d %.200s", got.status, got.body)
	}
	if evs := h.obs.events(); len(evs) != 1 || evs[0].Action != ResponsePassedOversized {
		t.Errorf("pass events %+v", evs)
	}
}

// Issue 15: in reject mode an object where an array is declared passed
// with no event.
func TestWrongTypeResponses(t *testing.T) {
	body := `{"users":[{"id":1}]}`
	h := usersHarness(t, func(c *Config) { c.FilterResponses = FilterReject }, respondJSON(200, body))
	got := h.do("GET", "/users", "", "")
	if typ, _ := got.problem(); got.status != 502 || typ != TypeResponseInvalid {
		t.Errorf("reject: %d %s", got.status, got.body)
	}
	if evs := h.obs.events(); len(evs) != 1 || evs[0].Action != ResponseRejected || !strings.Contains(evs[0].Reason, "type") {
		t.Errorf("reject events %+v", evs)
	}
	h = usersHarness(t, nil, respondJSON(200, body))
	got = h.do("GET", "/users", "", "")
	if got.status != 200 {
		t.Errorf("strip: %d %s", got.status, got.body)
	}
	if evs := h.obs.events(); len(evs) == 0 || evs[0].Action != ResponseWrongType || evs[0].Fields[0] != "/" {
		t.Errorf("strip events %+v", evs)
	}
}

// Issue 15: error responses declared as content: {} were emptied to {}
// without a warning; check now warns.
func TestEmptiedErrorResponses(t *testing.T) {
	for mode, want := range map[string]string{FilterStrip: "emptied ({})", FilterReject: "refused (502)", FilterOff: ""} {
		d, err := Load(context.Background(), Config{Name: "users", Spec: streamSpec, FilterResponses: mode}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := d.EmptiedErrorResponses()
		if want == "" {
			if got != nil {
				t.Errorf("%s: %q", mode, got)
			}
			continue
		}
		if len(got) != 1 || !strings.HasPrefix(got[0], "GET /users (#/paths/~1users/get) response 404 declares no JSON schema") || !strings.Contains(got[0], want) {
			t.Errorf("%s: %q", mode, got)
		}
	}
}
