package h2

import (
	"crypto/tls"
	"io"
	"sync"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// BenchmarkServerBurst is h2load's shape: each of a few TLS connections
// sends bursts of 100 GETs in one write and reads the 100 responses. The
// client is a cheap raw-frame one, so cpu-µs/op is mostly the server's.
func BenchmarkServerBurst(b *testing.B) {
	const conns, burst = 4, 100
	for _, impl := range []string{"rampart", "xnet"} {
		b.Run(impl, func(b *testing.B) {
			bs := startBenchServer(b, impl)
			ccfg, writes := bs.ccfg, &bs.writes
			var blk []byte
			{
				var hb bytesBuffer
				enc := hpack.NewEncoder(&hb)
				enc.SetMaxDynamicTableSizeLimit(0)
				for i := 0; i < len(getFields); i += 2 {
					enc.WriteField(hpack.HeaderField{Name: getFields[i], Value: getFields[i+1], Sensitive: true})
				}
				blk = hb.b
			}
			type client struct {
				c  *tls.Conn
				fr *http2.Framer
				id uint32
			}
			clients := make([]*client, conns)
			for i := range clients {
				c, err := tls.Dial("tcp", bs.addr, ccfg)
				if err != nil {
					b.Fatal(err)
				}
				fr := http2.NewFramer(c, c)
				fr.SetReuseFrames()
				io.WriteString(c, http2.ClientPreface)
				fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
				fr.WriteWindowUpdate(0, 1<<31-1-65535)
				fr.WriteSettingsAck() // for the server's SETTINGS, read below
				clients[i] = &client{c: c, fr: fr, id: 1}
			}
			buf := make([]byte, 0, burst*(9+len(blk)))
			_ = buf
			run := func(cl *client, n int) {
				out := make([]byte, 0, burst*(9+len(blk)))
				for n > 0 {
					k := min(n, burst)
					out = out[:0]
					for range k {
						out = appendFrameHeader(out, len(blk), http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, cl.id)
						out = append(out, blk...)
						cl.id += 2
					}
					if _, err := cl.c.Write(out); err != nil {
						b.Error(err)
						return
					}
					for ended := 0; ended < k; {
						f, err := cl.fr.ReadFrame()
						if err != nil {
							b.Error(err)
							return
						}
						switch f.Header().Type {
						case http2.FrameData:
							if f.Header().Flags.Has(http2.FlagDataEndStream) {
								ended++
							}
						case http2.FrameHeaders:
							if f.Header().Flags.Has(http2.FlagHeadersEndStream) {
								ended++
							}
						}
					}
					n -= k
				}
			}
			for _, cl := range clients {
				run(cl, burst)
			}
			b.ReportAllocs()
			writes.Store(0)
			cpu0 := processCPU()
			b.ResetTimer()
			var cw sync.WaitGroup
			per := (b.N + conns - 1) / conns
			for _, cl := range clients {
				cw.Add(1)
				go func() {
					defer cw.Done()
					run(cl, per)
				}()
			}
			cw.Wait()
			b.StopTimer()
			total := per * conns
			cpu := processCPU() - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(total)/1e3, "cpu-µs/op")
			b.ReportMetric(float64(writes.Load())/float64(total), "writes/op")
			for _, cl := range clients {
				cl.c.Close()
			}
			bs.stop()
		})
	}
}
