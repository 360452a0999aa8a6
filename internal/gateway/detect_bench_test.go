package gateway

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/detect"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// BenchmarkDetectPerRequest is what detection costs each request: the
// block lookup before routing and the event handed to the detectors at the
// end (the detectors themselves run on their own goroutine).
func BenchmarkDetectPerRequest(b *testing.B) {
	yaml := `version: 1
admin: { listen: "off" }
upstreams:
  app: { targets: ["http://127.0.0.1:9"] }
detect: {}
routes:
  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: none }
`
	gw := compile(b, yaml, Deps{})
	// A table that is not empty: the lookup does real work.
	now := time.Now()
	_ = gw.detect.Table().Add(detect.Block{Kind: detect.KindClient, Subject: "198.51.100.0/24", Detector: detect.Operator, Created: now, Expires: now.Add(time.Hour)})
	_ = gw.detect.Table().Add(detect.Block{Kind: detect.KindClient, Subject: "203.0.113.9", Detector: detect.Operator, Created: now, Expires: now.Add(time.Hour)})
	info := &pipeline.Info{Start: now, Client: netip.MustParseAddr("192.0.2.1"), Path: "/api/items", RouteIndex: 1, UpstreamStatus: 200}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, blocked := gw.detect.BlockedClient(info.Client, now); blocked {
			b.Fatal("blocked")
		}
		gw.feedDetectors(info, 200)
	}
	b.ReportMetric(float64(gw.detect.Dropped())/float64(b.N), "dropped/op") // the detectors did not keep up
}
