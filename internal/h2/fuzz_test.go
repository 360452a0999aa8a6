package h2_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// fuzzSeeds are real client frame sequences (after the preface); they are
// also committed as files under testdata/fuzz/FuzzServeConn (regenerate
// with H2_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds).
func fuzzSeeds() map[string][]byte {
	block := func(fields ...hfield) []byte {
		var b bytes.Buffer
		e := hpack.NewEncoder(&b)
		for _, f := range fields {
			e.WriteField(f)
		}
		return b.Bytes()
	}
	frames := func(f func(fr *http2.Framer)) []byte {
		var b bytes.Buffer
		fr := http2.NewFramer(&b, nil)
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
		f(fr)
		return b.Bytes()
	}
	return map[string][]byte{
		"get": frames(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(get("/", hf("cookie", "a=1"), hf("cookie", "b=2"))...), EndStream: true, EndHeaders: true})
		}),
		"post-data": frames(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(post("/p", hf("content-length", "10"), hf("te", "trailers"))...), EndHeaders: true})
			fr.WriteData(1, false, []byte("01234"))
			fr.WriteWindowUpdate(0, 1000)
			fr.WriteData(1, false, []byte("56789"))
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(hf("x-trailer", "t")), EndStream: true, EndHeaders: true})
		}),
		"settings-ping": frames(func(fr *http2.Framer) {
			fr.WriteSettingsAck()
			fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
			fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20}, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
			fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 200})
			fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		}),
		"continuation": frames(func(fr *http2.Framer) {
			b := block(get("/c", hf("x-long", "0123456789abcdef0123456789abcdef"))...)
			third := len(b) / 3
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:third], EndStream: true})
			fr.WriteContinuation(1, false, b[third:2*third])
			fr.WriteContinuation(1, true, b[2*third:])
			fr.WriteRSTStream(1, http2.ErrCodeCancel)
		}),
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("H2_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set H2_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzServeConn")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzServeConn")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range fuzzSeeds() {
		data := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzServeConn writes the client preface and then the fuzzed bytes into a
// net.Pipe served by each impl, and requires ServeConn to return (once the
// client end is closed) without a panic. A write deadline on the client end
// bounds a server that stops reading without closing.
func FuzzServeConn(f *testing.F) {
	for _, b := range fuzzSeeds() {
		f.Add(b)
	}
	f.Fuzz(fuzzOne)
}

var fuzzHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	w.Header().Set("Trailer", "X-T")
	io.WriteString(w, "fuzz")
	w.Header().Set("X-T", "t")
})

// fuzzImpls are the impls the fuzz target serves: Rampart's own when it is
// built in, else the x/net reference (so the harness itself stays tested).
func fuzzImpls() []impl {
	var out []impl
	for _, im := range impls {
		if im.strict {
			out = append(out, im)
		}
	}
	if len(out) == 0 {
		return impls
	}
	return out
}

func fuzzOne(t *testing.T, in []byte) {
	for _, im := range fuzzImpls() {
		b := im.newBackend(serverConfig{Handler: fuzzHandler, MaxHeaderBytes: 64 << 10})
		cli, srv := net.Pipe()
		returned := make(chan struct{})
		go func() {
			defer close(returned)
			b.ServeConn(context.Background(), srv)
		}()
		// Drain whatever the server writes so it never blocks on us, and
		// note a GOAWAY: a server that sent one may stop reading (x/net
		// lingers a second for the client to close), so the client then
		// stops writing and closes at once.
		drained := make(chan struct{})
		goAway := make(chan struct{})
		go func() {
			defer close(drained)
			fr := http2.NewFramer(nil, cli)
			fr.SetMaxReadFrameSize(1<<24 - 1)
			seen := false
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					if _, ok := err.(http2.StreamError); ok {
						continue
					}
					break
				}
				if _, ok := f.(*http2.GoAwayFrame); ok && !seen {
					seen = true
					close(goAway)
				}
			}
			io.Copy(io.Discard, cli)
		}()
		written := make(chan struct{})
		go func() {
			defer close(written)
			cli.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := cli.Write([]byte(http2.ClientPreface)); err != nil {
				return
			}
			cli.Write(in)
		}()
		select {
		case <-written:
		case <-returned:
		case <-goAway:
		}
		cli.Close()
		<-written
		select {
		case <-returned:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: ServeConn did not return within 10s of the client closing", im.name)
		}
		<-drained
		b.Close()
	}
}
