package h2

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// testDecoder decodes into a slice, as the connection's reader would.
type testDecoder struct {
	*hpackDecoder
	got []field
}

func newTestDecoder(maxStrLen int) *testDecoder {
	td := &testDecoder{}
	td.hpackDecoder = newHPACKDecoder(maxStrLen, func(f field) bool {
		td.got = append(td.got, f)
		return true
	}, http.CanonicalHeaderKey)
	return td
}

// block decodes one whole header block.
func (td *testDecoder) block(t testing.TB, p []byte) []field {
	if err := td.decode(p); err != nil {
		t.Helper()
		t.Fatal(err)
	}
	return td.got
}

func (td *testDecoder) decode(p []byte) error {
	td.got = td.got[:0]
	td.startBlock()
	if err := td.write(p); err != nil {
		return err
	}
	return td.close()
}

// encodeBlock HPACK-encodes name/value pairs with x/net's encoder; a name
// with a "!" prefix is sent never-indexed.
func encodeBlock(enc *hpack.Encoder, buf *bytes.Buffer, fields ...string) []byte {
	buf.Reset()
	for i := 0; i < len(fields); i += 2 {
		name, sensitive := strings.CutPrefix(fields[i], "!")
		enc.WriteField(hpack.HeaderField{Name: name, Value: fields[i+1], Sensitive: sensitive})
	}
	return bytes.Clone(buf.Bytes())
}

const testToken = "Bearer eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJiZW5jaCIsInNjb3BlIjoiaXRlbXM6cmVhZCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJl"

// h2loadBlock is what h2load sends for each request after the first: the
// usual fields indexed, the token as a never-indexed literal.
func h2loadBlocks() (first, next []byte) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	fields := []string{":method", "GET", ":path", "/api/items/42", ":scheme", "https", ":authority", "127.0.0.1:8443",
		"accept", "*/*", "accept-encoding", "gzip, deflate", "user-agent", "h2load nghttp2/1.52.0", "!authorization", testToken}
	return encodeBlock(enc, &buf, fields...), encodeBlock(enc, &buf, fields...)
}

func TestStaticTableIsRFC7541(t *testing.T) {
	for i := range staticTable {
		want, err := hpack.NewDecoder(4096, nil).DecodeFull([]byte{0x80 | byte(i+1)})
		if err != nil || len(want) != 1 {
			t.Fatalf("index %d: x/net: %v %v", i+1, want, err)
		}
		if f := staticTable[i]; f.name != want[0].Name || f.value != want[0].Value {
			t.Errorf("index %d: %q: %q, want %q: %q", i+1, f.name, f.value, want[0].Name, want[0].Value)
		}
	}
}

func TestHPACKLiteralCache(t *testing.T) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

	t.Run("repeated literal → decoded string reused", func(t *testing.T) {
		td := newTestDecoder(1 << 20)
		first, next := h2loadBlocks()
		a := td.block(t, first)[7]
		b := td.block(t, next)[7]
		if a.name != "authorization" || a.value != testToken || b.value != testToken {
			t.Fatalf("got %q: %q then %q", a.name, a.value, b.value)
		}
		if !same(a.value, b.value) {
			t.Errorf("the token was decoded again")
		}
	})
	t.Run("changed value → decoded, not reused", func(t *testing.T) {
		td := newTestDecoder(1 << 20)
		td.block(t, encodeBlock(enc, &buf, "!authorization", "Bearer one"))
		got := td.block(t, encodeBlock(enc, &buf, "!authorization", "Bearer two"))
		if got[0].value != "Bearer two" {
			t.Errorf("got %q", got[0].value)
		}
		got = td.block(t, encodeBlock(enc, &buf, "!authorization", "Bearer two"))
		if got[0].value != "Bearer two" {
			t.Errorf("got %q", got[0].value)
		}
	})
	t.Run("same value bytes, other name → not reused", func(t *testing.T) {
		td := newTestDecoder(1 << 20)
		a := td.block(t, encodeBlock(enc, &buf, "!x-a", "v"))[0]
		b := td.block(t, encodeBlock(enc, &buf, "!x-b", "v"))[0]
		c := td.block(t, encodeBlock(enc, &buf, "!cookie", "v"))[0]
		if a.name != "x-a" || b.name != "x-b" || c.name != "cookie" || b.value != "v" || c.value != "v" {
			t.Fatalf("got %+v %+v %+v", a, b, c)
		}
		if b.canon != "X-B" || c.canon != "Cookie" {
			t.Errorf("canonical keys %q %q", b.canon, c.canon)
		}
	})
	t.Run("literal name reused with its value", func(t *testing.T) {
		td := newTestDecoder(1 << 20)
		blk := encodeBlock(enc, &buf, "!x-custom-name", "value")
		a := td.block(t, blk)[0]
		b := td.block(t, blk)[0]
		if b.name != "x-custom-name" || b.canon != "X-Custom-Name" || !b.nameOK || !b.valueOK || !same(a.name, b.name) || !same(a.value, b.value) {
			t.Errorf("got %+v", b)
		}
	})
	t.Run("invalid value stays invalid from the cache", func(t *testing.T) {
		td := newTestDecoder(1 << 20)
		blk := encodeBlock(enc, &buf, "!x-a", "bad\x01value")
		for range 2 {
			if f := td.block(t, blk)[0]; f.valueOK {
				t.Fatalf("value with a control byte accepted")
			}
		}
	})
	t.Run("dynamic table hit", func(t *testing.T) {
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		td := newTestDecoder(1 << 20)
		td.block(t, encodeBlock(enc, &buf, "x-trace", "abc", "user-agent", "ua"))
		blk := encodeBlock(enc, &buf, "x-trace", "abc", "user-agent", "ua")
		if len(blk) != 2 || blk[0]&0x80 == 0 || blk[1]&0x80 == 0 {
			t.Fatalf("the encoder did not index: % x", blk)
		}
		got := td.block(t, blk)
		if len(got) != 2 || got[0].name != "x-trace" || got[0].canon != "X-Trace" || got[0].value != "abc" || got[1].value != "ua" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("table size update", func(t *testing.T) {
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		td := newTestDecoder(1 << 20)
		td.block(t, encodeBlock(enc, &buf, "x-a", "1"))
		if len(td.dyn) != 1 {
			t.Fatalf("dynamic table: %d entries", len(td.dyn))
		}
		enc.SetMaxDynamicTableSizeLimit(0) // the next block starts with an update to 0
		td.block(t, encodeBlock(enc, &buf, "x-b", "2"))
		if len(td.dyn) != 0 || td.dynSize != 0 || td.maxSize != 0 {
			t.Errorf("after an update to 0: %d entries, %d bytes, max %d", len(td.dyn), td.dynSize, td.maxSize)
		}
		td.startBlock()
		if err := td.write([]byte{0xbe}); err == nil { // index 62: gone
			t.Errorf("index of an evicted entry accepted")
		}
		td2 := newTestDecoder(1 << 20)
		td2.startBlock()
		if err := td2.write([]byte{0x3f, 0xe2, 0x1f}); err == nil { // update to 4097
			t.Errorf("update above SETTINGS_HEADER_TABLE_SIZE accepted")
		}
		td3 := newTestDecoder(1 << 20)
		td3.block(t, []byte{0x40, 1, 'a', 1, 'b'}) // one entry
		td3.startBlock()
		if err := td3.write([]byte{0x82, 0x20}); err == nil {
			t.Errorf("update after the first field accepted")
		}
	})
	t.Run("memory bound", func(t *testing.T) {
		td := newTestDecoder(1 << 20)
		big := strings.Repeat("a", 40*600)
		var fields []string
		for i := range 40 {
			fields = append(fields, fmt.Sprintf("!x-%d", i), big[:i*600])
		}
		for range 3 {
			got := td.block(t, encodeBlock(enc, &buf, fields...))
			if len(got) != 40 || got[39].value != big[:39*600] {
				t.Fatalf("decoded wrong")
			}
			n := 0
			for i := range td.lits {
				n += td.lits[i].bytes()
			}
			if n != td.litLen || td.litLen > td.litMax || td.litMax > litCacheBytes {
				t.Fatalf("cache holds %d bytes (counted %d), bound %d", n, td.litLen, td.litMax)
			}
		}
		if small := newTestDecoder(100); small.litMax != 100 {
			t.Errorf("bound %d with a header list bound of 100", small.litMax)
		}
	})
}

// The request blocks of a client like h2load decode without allocating
// once the connection has seen one.
func TestHPACKRepeatedBlockAllocs(t *testing.T) {
	td := newTestDecoder(1 << 20)
	first, next := h2loadBlocks()
	td.block(t, first)
	td.block(t, next)
	allocs := testing.AllocsPerRun(100, func() { td.block(t, next) })
	if allocs != 0 {
		t.Errorf("%v allocations per repeated request block, want 0", allocs)
	}
}

func BenchmarkHPACKDecode(b *testing.B) {
	first, next := h2loadBlocks()
	b.Run("rampart", func(b *testing.B) {
		td := newTestDecoder(1 << 20)
		td.block(b, first)
		b.ReportAllocs()
		for b.Loop() {
			td.block(b, next)
		}
	})
	b.Run("xnet", func(b *testing.B) {
		d := hpack.NewDecoder(4096, func(hpack.HeaderField) {})
		d.SetMaxStringLength(1 << 20)
		d.Write(first)
		d.Close()
		b.ReportAllocs()
		for b.Loop() {
			d.Write(next)
			d.Close()
		}
	})
}

// FuzzHPACKDecode holds our decoder to x/net's hpack.Decoder: the same
// sequence of blocks, cut into the same fragments, gives the same fields,
// or an error in the same block from both. Input: a byte for the string
// bound (0: 1 MiB), a byte for the number of fields passed on per block
// before the receiver stops them (0: all; x/net then skips decoding
// unindexed strings), then blocks as [length][cut][bytes].
func FuzzHPACKDecode(f *testing.F) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	first, next := h2loadBlocks()
	add := func(maxStr, stopAfter byte, blocks ...[]byte) {
		in := []byte{maxStr, stopAfter}
		for i, b := range blocks {
			if len(b) > 255 {
				b = b[:255]
			}
			in = append(in, byte(len(b)), byte(i*7))
			in = append(in, b...)
		}
		f.Add(in)
	}
	add(0, 0, first, next, next)
	add(0, 3, first, next)
	add(10, 0, encodeBlock(enc, &buf, "x-a", "short", "x-b", "a value longer than ten"))
	add(0, 0, encodeBlock(enc, &buf, "x-a", "1", "x-b", "2"), encodeBlock(enc, &buf, "x-a", "1", "x-b", "3"), encodeBlock(enc, &buf, "x-a", "1", "x-b", "3"))
	enc.SetMaxDynamicTableSizeLimit(64)
	add(0, 0, encodeBlock(enc, &buf, "x-a", "1", "x-b", "2", "x-c", strings.Repeat("c", 40)), encodeBlock(enc, &buf, "x-a", "1", "x-c", "3"))
	add(0, 1, []byte{0x20, 0x3f, 0xe1, 0x1f, 0x82}, []byte{0x82, 0x20}, []byte{0x40, 1, 'a', 1, 'b', 0x20, 0xbe})
	add(0, 1, []byte{0x00, 0x81, 0xff, 0x81, 0xff}, []byte{0x10, 0x82, 0x00, 0x01, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		maxStr := int(in[0])
		if maxStr == 0 {
			maxStr = 1 << 20
		}
		stopAfter := int(in[1])
		in = in[2:]

		var ours []field
		od := newHPACKDecoder(maxStr, func(f field) bool {
			ours = append(ours, f)
			return stopAfter == 0 || len(ours) < stopAfter
		}, http.CanonicalHeaderKey)
		var theirs []hpack.HeaderField
		var xd *hpack.Decoder
		xd = hpack.NewDecoder(4096, func(f hpack.HeaderField) {
			theirs = append(theirs, f)
			if stopAfter != 0 && len(theirs) >= stopAfter {
				xd.SetEmitEnabled(false)
			}
		})
		xd.SetMaxStringLength(maxStr)

		for len(in) >= 2 {
			n, cut := int(in[0]), int(in[1])
			in = in[2:]
			n = min(n, len(in))
			blk := in[:n]
			in = in[n:]
			cut %= n + 1
			ours, theirs = ours[:0], theirs[:0]

			od.startBlock()
			oerr := od.write(blk[:cut])
			if oerr == nil {
				oerr = od.write(blk[cut:])
			}
			if oerr == nil {
				oerr = od.close()
			}
			xd.SetEmitEnabled(true)
			_, xerr := xd.Write(blk[:cut])
			if xerr == nil {
				_, xerr = xd.Write(blk[cut:])
			}
			if xerr == nil {
				xerr = xd.Close()
			}
			if (oerr == nil) != (xerr == nil) {
				t.Fatalf("block % x: ours: %v, x/net: %v", blk, oerr, xerr)
			}
			if oerr != nil {
				return // the connection ends
			}
			if len(ours) != len(theirs) {
				t.Fatalf("block % x: %d fields, x/net %d", blk, len(ours), len(theirs))
			}
			for i := range ours {
				o, x := ours[i], theirs[i]
				if o.name != x.Name || o.value != x.Value {
					t.Fatalf("block % x: field %d: %q: %q, x/net %q: %q", blk, i, o.name, o.value, x.Name, x.Value)
				}
				if o.valueOK != httpguts.ValidHeaderFieldValue(x.Value) || !strings.HasPrefix(o.name, ":") && o.nameOK != validWireName(x.Name) {
					t.Fatalf("block % x: field %d: validity %v %v", blk, i, o.nameOK, o.valueOK)
				}
				if o.nameOK && !strings.HasPrefix(o.name, ":") && o.canon != http.CanonicalHeaderKey(o.name) {
					t.Fatalf("block % x: field %d: canonical key %q", blk, i, o.canon)
				}
			}
		}
	})
}

// The connection ends with COMPRESSION_ERROR on every HPACK error of a
// request block, as with x/net's decoder.
func TestHeaderBlockHPACKErrors(t *testing.T) {
	get := []byte{0x82, 0x87, 0x84, 0x01, 0x01, 'a'} // GET https / :authority a, from the static table
	cases := map[string][][]byte{
		"index 0":                         {append([]byte{0x80}, get...)},
		"index past the tables":           {append([]byte{0xbe}, get...)},
		"size update above 4096":          {append([]byte{0x3f, 0xe2, 0x1f}, get...)},
		"size update after a field":       {append([]byte{0x40, 1, 'x', 1, 'y'}, get...), append(append([]byte{}, get...), 0x20)},
		"field cut at the end":            {append(append([]byte{}, get...), 0x00, 0x05, 'x')},
		"Huffman with EOS":                {append(append([]byte{}, get...), 0x00, 0x01, 'x', 0x84, 0xff, 0xff, 0xff, 0xff)},
		"string past the header list":     {append(append([]byte{}, get...), 0x00, 0x7f, 0xe1, 0xff, 0x7f)},
		"varint overflow":                 {append(append([]byte{}, get...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		"literal name index out of range": {append(append([]byte{}, get...), 0x0f, 0x7f, 0x01, 'v')},
	}
	ts, calls := countingServer(t, &Server{MaxHeaderBytes: 64 << 10})
	t.Run("each", func(t *testing.T) {
		for name, blocks := range cases {
			t.Run(name, func(t *testing.T) {
				t.Parallel() // each waits out the server's linger after its GOAWAY
				rc := dialRaw(t, ts)
				for i, blk := range blocks {
					if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: blk, EndStream: true, EndHeaders: true}); err != nil {
						t.Fatal(err)
					}
				}
				rc.expectGoAway(http2.ErrCodeCompression)
			})
		}
	})
	if n := calls.Load(); n > 1 { // the first block of "size update after a field" is valid
		t.Errorf("handler called %d times", n)
	}
}

// End to end: a repeated never-indexed token reaches the handler each
// time, and a changed one is seen changed.
func TestHeaderBlockLiteralCache(t *testing.T) {
	var got []string
	var mu sync.Mutex
	ts := startTCP(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization")+"|"+r.Header.Get("X-Custom"))
		mu.Unlock()
	})})
	rc := dialRaw(t, ts)
	tokens := []string{"Bearer a", "Bearer a", "Bearer b", "Bearer a", "Bearer a"}
	for i, tok := range tokens {
		rc.hbuf.Reset()
		for j := 0; j < len(getFields); j += 2 {
			rc.enc.WriteField(hpack.HeaderField{Name: getFields[j], Value: getFields[j+1]})
		}
		rc.enc.WriteField(hpack.HeaderField{Name: "authorization", Value: tok, Sensitive: true})
		rc.enc.WriteField(hpack.HeaderField{Name: "x-custom", Value: tok, Sensitive: true})
		id := uint32(2*i + 1)
		if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.hbuf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if s := rc.expectResponse(id); s != "200" {
			t.Fatalf("status %s", s)
		}
	}
	for i, tok := range tokens {
		if want := tok + "|" + tok; got[i] != want {
			t.Errorf("request %d: %q, want %q", i+1, got[i], want)
		}
	}
}
