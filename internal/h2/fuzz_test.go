package h2

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// fuzzSeeds are frame sequences (after the preface) worth mutating.
func fuzzSeeds() [][]byte {
	var out [][]byte
	frames := func(write func(fr *http2.Framer, enc func(fields ...string) []byte)) []byte {
		var buf, hb bytes.Buffer
		fr := http2.NewFramer(&buf, nil)
		henc := hpack.NewEncoder(&hb)
		enc := func(fields ...string) []byte {
			hb.Reset()
			for i := 0; i < len(fields); i += 2 {
				henc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
			}
			return append([]byte(nil), hb.Bytes()...)
		}
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
		write(fr, enc)
		return buf.Bytes()
	}
	out = append(out, frames(func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteSettingsAck()
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(getFields...), EndStream: true, EndHeaders: true})
	}))
	out = append(out, frames(func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(":method", "POST", ":scheme", "https", ":path", "/p", ":authority", "a", "content-length", "5"), EndHeaders: true})
		fr.WriteData(1, false, []byte("hel"))
		fr.WriteData(1, false, nil)
		fr.WriteData(1, true, []byte("lo"))
		fr.WritePing(false, [8]byte{1})
		fr.WriteWindowUpdate(0, 1000)
	}))
	out = append(out, frames(func(fr *http2.Framer, enc func(...string) []byte) {
		blk := enc(get("x-a", "b", "cookie", "a=1", "cookie", "b=2")...)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: blk[:4]})
		fr.WriteContinuation(3, false, blk[4:6])
		fr.WriteContinuation(3, true, blk[6:])
		fr.WriteRSTStream(3, http2.ErrCodeCancel)
		fr.WritePriority(5, http2.PriorityParam{StreamDep: 3, Weight: 9})
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	}))
	out = append(out, frames(func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(get(":method", "POST", "trailer", "x-t")[2:]...), EndHeaders: true})
		fr.WriteData(1, false, []byte("body"))
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc("x-t", "v"), EndStream: true, EndHeaders: true})
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}, http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20})
		fr.WriteWindowUpdate(1, 5)
	}))
	out = append(out, []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	return out
}

// FuzzServeConn: whatever follows the preface, ServeConn neither panics
// nor hangs, and returns once the client is gone.
func FuzzServeConn(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-T")
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
			w.Write(make([]byte, 70000)) // past the default window
			w.Header().Set("X-T", "t")
		})}
		cli, srv := net.Pipe()
		done := make(chan struct{})
		go func() {
			s.ServeConn(context.Background(), srv)
			close(done)
		}()
		go io.Copy(io.Discard, cli)
		cli.Write([]byte(http2.ClientPreface))
		cli.Write(data)
		cli.Close()
		<-done
		s.Close()
	})
}
