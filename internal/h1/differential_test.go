package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// snapshot is what a handler can see of a request.
type snapshot struct {
	Method, RequestURI, Proto string
	ProtoMajor, ProtoMinor    int
	URL                       url.URL
	Host                      string
	Header                    http.Header
	ContentLength             int64
	TransferEncoding          []string
	Close                     bool
	NoBody                    bool
	Body                      string
	Trailer                   http.Header
	RemoteAddrSet             bool
	BodyErr                   bool
}

func snapshotHandler(out chan<- snapshot) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := snapshot{
			Method: r.Method, RequestURI: r.RequestURI, Proto: r.Proto,
			ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor, URL: *r.URL, Host: r.Host,
			Header: r.Header.Clone(), ContentLength: r.ContentLength,
			TransferEncoding: r.TransferEncoding, Close: r.Close, NoBody: r.Body == http.NoBody,
			RemoteAddrSet: r.RemoteAddr != "",
		}
		b, err := io.ReadAll(r.Body)
		s.Body, s.BodyErr = string(b), err != nil
		s.Trailer = r.Trailer.Clone()
		out <- s
		io.WriteString(w, "ok")
	}
}

// exchangeRaw sends raw to addr and returns the handler's snapshot.
func exchangeRaw(t *testing.T, addr, raw string, got <-chan snapshot) snapshot {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading response: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusContinue {
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			break
		}
	}
	select {
	case s := <-got:
		return s
	default:
		t.Fatal("handler did not run")
	}
	return snapshot{}
}

// differentialRequests are valid requests whose Request fields must equal
// net/http's.
var differentialRequests = []struct{ name, raw string }{
	{"simple-get", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{"query", "GET /a/b?x=1&y=%20z HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{"empty-query", "GET /a? HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{"two-question-marks", "GET /a?b? HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{"escaped-slash", "GET /a%2Fb/c%20d HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"escaped-letters", "GET /%61bc HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"sub-delims", "GET /a!b*c(d)'e;f=g,h HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"double-slash", "GET //evil.example/path HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"colon-at-path", "GET /a:b@c HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"fragment-like", "GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"non-ascii-path", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"lowercase-names", "GET / HTTP/1.1\r\nhost: x\r\nuser-agent: t\r\nx-custom-thing: 1\r\nACCEPT: */*\r\n\r\n"},
	{"repeated-fields", "GET / HTTP/1.1\r\nHost: x\r\nAccept: a\r\nAccept: b\r\nX-A: 1\r\nx-a: 2\r\n\r\n"},
	{"whitespace-in-values", "GET / HTTP/1.1\r\nHost: x\r\nX-A:   spaced \t \r\nX-B:\t\r\nX-C:\r\n\r\n"},
	{"obs-text-value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xe9\r\n\r\n"},
	{"underscore-and-digits", "GET / HTTP/1.1\r\nHost: x\r\nx_under_score: 1\r\nx-1a: 2\r\n\r\n"},
	{"bare-lf", "GET / HTTP/1.1\nHost: x\nX-A: 1\n\n"},
	{"http10", "GET /old HTTP/1.0\r\n\r\n"},
	{"http10-keep-alive", "GET /old HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"},
	{"http10-with-host", "GET /old HTTP/1.0\r\nHost: x\r\n\r\n"},
	{"connection-close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n"},
	{"absolute-form", "GET http://example.com:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n"},
	{"connect-authority", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"},
	{"ipv6-host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
	{"empty-host", "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
	{"extension-method", "PURGE /cache HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"pragma-no-cache", "GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n"},
	{"content-length-body", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"},
	{"content-length-zero", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
	{"chunked-body", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"chunked-trailers", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, X-Other\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Sum: 1\r\nx-undeclared: 2\r\n\r\n"},
	{"expect-continue", "POST /p HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"},
	{"expect-continue-http10", "POST /p HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"},
	{"credentials", "GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1; b=2\r\nAuthorization: Bearer t\r\n\r\n"},
}

func TestDifferentialWithNetHTTP(t *testing.T) {
	std := make(chan snapshot, 1)
	ts := httptest.NewServer(snapshotHandler(std))
	defer ts.Close()
	mine := make(chan snapshot, 1)
	addr := startHandler(t, snapshotHandler(mine))
	for _, tc := range differentialRequests {
		t.Run(tc.name, func(t *testing.T) {
			want := exchangeRaw(t, strings.TrimPrefix(ts.URL, "http://"), tc.raw, std)
			got := exchangeRaw(t, addr, tc.raw, mine)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("h1:       %+v\nnet/http: %+v", got, want)
			}
		})
	}
}
