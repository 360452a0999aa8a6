package framing

import (
	"strings"
	"testing"
)

func TestScanHead(t *testing.T) {
	const get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name   string
		in     string
		n      int
		reason Reason
	}{
		{"complete", get + "next", len(get), ""},
		{"bare-lf", "GET / HTTP/1.1\nHost: x\n\n", len("GET / HTTP/1.1\nHost: x\n\n"), ""},
		{"leading-crlf", "\r\n" + get, len(get) + 2, ""},
		{"incomplete", "GET / HTTP/1.1\r\nHost: x\r\n", 0, ""},
		{"cl-and-te", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 0, ReasonCLAndTE},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\n a\r\n\r\n", 0, ReasonObsFold},
		{"too-large", "GET /" + strings.Repeat("a", 100) + " HTTP/1.1\r\n", 0, ReasonHeaderTooLarge},
		{"http2-preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, ReasonBadVersion},
		{"one-space", "GET /\r\nHost: x\r\n\r\n", 0, ReasonBadRequestLine},
		{"bad-version-shape", "GET / HTTP/1.x\r\n\r\n", 0, ReasonBadRequestLine},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, reason := ScanHead([]byte(tc.in), 100)
			if n != tc.n || reason != tc.reason {
				t.Errorf("ScanHead = %d, %q; want %d, %q", n, reason, tc.n, tc.reason)
			}
			// Arriving in pieces of every size gives the same verdict.
			for step := 1; step <= len(tc.in); step++ {
				var s HeadScanner
				n, reason := 0, Reason("")
				for end := step; ; end += step {
					end = min(end, len(tc.in))
					if n, reason = s.Scan([]byte(tc.in[:end]), 100); n > 0 || reason != "" || end == len(tc.in) {
						break
					}
				}
				if n != tc.n || reason != tc.reason {
					t.Fatalf("in pieces of %d: Scan = %d, %q; want %d, %q", step, n, reason, tc.n, tc.reason)
				}
			}
		})
	}
}
