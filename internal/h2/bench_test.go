package h2

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

var benchBody = []byte("hello, world\n")

func benchHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write(benchBody)
}

// countConn counts the writes to the TCP connection under TLS.
type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// benchServer serves benchHandler over TLS with impl ("rampart" or "xnet"),
// counting the server's TCP writes; stop closes it and waits for its
// goroutines.
type benchServer struct {
	addr   string
	ccfg   *tls.Config
	writes atomic.Int64
	stop   func()
}

func startBenchServer(b *testing.B, impl string) *benchServer {
	scfg, ccfg := tlsConfigs()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	bs := &benchServer{addr: ln.Addr().String(), ccfg: ccfg}
	rs := &Server{Handler: http.HandlerFunc(benchHandler)}
	xs := &http2.Server{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				tc := tls.Server(countConn{c, &bs.writes}, scfg)
				if tc.Handshake() != nil {
					c.Close()
					return
				}
				if impl == "rampart" {
					rs.ServeConn(context.Background(), tc)
				} else {
					xs.ServeConn(tc, &http2.ServeConnOpts{Handler: http.HandlerFunc(benchHandler), BaseConfig: &http.Server{}})
				}
			}()
		}
	}()
	bs.stop = func() {
		ln.Close()
		rs.Close()
		wg.Wait()
	}
	return bs
}

// BenchmarkServer: small GETs, many parallel streams on a few TLS
// connections, x/net's http2.Transport as the client. cpu-µs/op is the
// process's CPU (client and server) per request; writes/op counts the
// server's TCP writes per request.
func BenchmarkServer(b *testing.B) {
	for _, impl := range []string{"rampart", "xnet"} {
		b.Run(impl, func(b *testing.B) {
			const conns = 4
			bs := startBenchServer(b, impl)
			ccfg, writes := bs.ccfg, &bs.writes
			var trs [conns]*http2.Transport
			for i := range trs {
				trs[i] = &http2.Transport{TLSClientConfig: ccfg}
			}
			url := "https://" + bs.addr + "/bench"
			warm := func(tr *http2.Transport) {
				resp, err := tr.RoundTrip(mustReq(url))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			for _, tr := range trs {
				warm(tr)
			}
			var next atomic.Int64
			b.SetParallelism(32) // 32 × GOMAXPROCS client goroutines
			b.ReportAllocs()
			writes.Store(0)
			cpu0 := processCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				tr := trs[next.Add(1)%conns]
				buf := make([]byte, 512)
				for pb.Next() {
					resp, err := tr.RoundTrip(mustReq(url))
					if err != nil {
						b.Error(err)
						return
					}
					for {
						if _, err := resp.Body.Read(buf); err != nil {
							break
						}
					}
					resp.Body.Close()
				}
			})
			b.StopTimer()
			cpu := processCPU() - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e3, "cpu-µs/op")
			b.ReportMetric(float64(writes.Load())/float64(b.N), "writes/op")
			for _, tr := range trs {
				tr.CloseIdleConnections()
			}
			bs.stop()
		})
	}
}

func mustReq(url string) *http.Request {
	r, err := http.NewRequest("GET", url, nil)
	if err != nil {
		panic(err)
	}
	return r
}

// TestAllocsPerRequest guards the server's allocations per request: a raw
// client with pre-encoded frames (which allocates nothing of its own per
// request) sends a GET and reads the response.
func TestAllocsPerRequest(t *testing.T) {
	ts := startTCP(t, &Server{Handler: http.HandlerFunc(benchHandler)})
	rc := dialRaw(t, ts, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	rc.fr.WriteWindowUpdate(0, 1<<31-1-65535)
	rc.fr.ReadMetaHeaders = nil
	rc.fr.SetReuseFrames()
	var blk []byte
	{
		var hb bytesBuffer
		enc := hpack.NewEncoder(&hb)
		enc.SetMaxDynamicTableSizeLimit(0)
		for i := 0; i < len(getFields); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: getFields[i], Value: getFields[i+1], Sensitive: true})
		}
		enc.WriteField(hpack.HeaderField{Name: "user-agent", Value: "bench", Sensitive: true})
		blk = hb.b
	}
	id := uint32(1)
	frame := make([]byte, 9+len(blk))
	one := func() {
		copy(frame[9:], blk)
		appendFrameHeader(frame[:0], len(blk), http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, id)
		if _, err := rc.c.Write(frame); err != nil {
			t.Fatal(err)
		}
		for {
			f, err := rc.fr.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if f.Header().StreamID == id && f.Header().Flags.Has(http2.FlagDataEndStream) {
				break
			}
		}
		id += 2
	}
	for range 100 {
		one()
	}
	allocs := testing.AllocsPerRun(1000, one)
	t.Logf("%.1f allocations per request", allocs)
	if allocs > 26 {
		t.Fatalf("%.1f allocations per request, guard is 26", allocs)
	}
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

var _ = fmt.Sprint
var _ = time.Second
