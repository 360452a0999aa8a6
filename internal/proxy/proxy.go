// Package proxy forwards accepted requests to an upstream pool.
//
// The forwarder is a synchronous HTTP/1.1 client run entirely on the
// handler's goroutine (no http.Transport, no httputil.ReverseProxy): it takes
// an idle connection to the chosen target from a per-target LIFO pool (1024
// idle at most, idle for 90 s at most) or dials one, writes the request head
// and a buffered body in one write, parses the response head strictly, copies
// the filtered headers and the body to the client and returns the connection
// to the pool only when the response was read completely and both sides
// allow keep-alive. The upstream always speaks HTTP/1.1, like nginx's
// proxy_pass (https targets offer only "http/1.1" in ALPN).
//
// The request: the line is METHOD, the canonical path the router matched
// (opaque, never re-encoded) and the raw query; Host is the target's (like
// nginx's proxy_set_header Host $proxy_host); client headers are copied except
// hop-by-hop ones, those the client's Connection header names, Expect (the
// body is already buffered) and the ones the gateway sets — X-Forwarded-For,
// -Proto, -Host, X-Real-Ip, X-Request-Id — which are written after that
// removal, so a client can neither supply nor strip them. With tracing on,
// the request's upstream span's traceparent (and tracestate) replace the
// client's, likewise (package tracing). No User-Agent is added. The body goes with Content-Length (chunked if its length is ever
// unknown). A header, method or target that would put CR, LF, NUL or another
// control byte on the wire is refused with a 400 problem (bad-header) before
// anything is sent.
//
// The response: a malformed head — bad status line, bare LF, obs-fold, an
// invalid field name or a space before the colon, control bytes in a value,
// both Content-Length and Transfer-Encoding, differing or invalid
// Content-Lengths, a Transfer-Encoding other than chunked, more than 64 KiB
// or 128 fields, a 101 (only Upgrade, for WebSocket routes, expects one;
// see upgrade.go) — becomes a 502 problem
// and nothing of it is forwarded; other 1xx responses are skipped. A chunked
// body is decoded strictly (framing.ChunkedReader, the decoder h1 uses for
// requests); if a body breaks after the head was forwarded (malformed, or
// cut short of its chunks or its Content-Length) what came is forwarded and
// the client connection is aborted (panic(http.ErrAbortHandler), which h1,
// net/http and HTTP/2 all honour), never ended cleanly; the request's
// pipeline.Info says UpstreamAborted.
// Response trailers are dropped. Hop-by-hop headers, those the upstream's
// Connection header names, fingerprinting headers (Server, X-Powered-By and
// kin), the upstream's X-Request-Id and every Access-Control-* header are
// removed; 5xx bodies are replaced by a generic problem+json (Retry-After
// kept) when the upstream masks errors, so stack traces and secrets in debug
// pages never leave the network. Event streams and responses of unknown
// length are flushed piece by piece. With buffer_response, a body (up to
// its cap) is first read whole into the gateway's body budget (package
// spool) and the upstream connection released; the client then gets it with
// a Content-Length, and a body that breaks while buffered is a 502. Past the
// cap or the budget's room, what was buffered is sent and the rest streamed.
//
// A request body the gateway streams (a route's buffer_request: false) may
// fail while it is forwarded; its refusal (413, 400, 408) is answered, and
// the upstream connection closed.
//
// Errors: Timeout bounds connecting plus waiting for the response head (504
// upstream-timeout); other failures are 502 upstream-unavailable, and 499 when
// the client went away (its request context is cancelled: the upstream I/O is
// woken and the connection dropped; behind h1, which cannot cancel it, the
// wait for the head and the body's reads go in 1 s slices with the client's
// socket checked between them). Targets are chosen round-robin with
// passive health: a target that refuses connections or times out is skipped
// for a while, and a request whose connection could not be made is retried
// once per remaining target (safe: nothing was sent). A pooled connection is
// probed (one non-blocking peek) before each reuse, so one the upstream
// closed on its own idle timeout is dropped, not used. Like
// net/http, a request that failed on a reused pooled connection before any
// response byte arrived is retried once on a fresh connection if it is
// replayable (GET, HEAD, OPTIONS, TRACE or an Idempotency-Key header, and a
// resendable body); others get the 502.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/spool"
	"github.com/rampart-gw/rampart/internal/tracing"
)

// Config is one upstream (an entry of upstreams: in the config file).
type Config struct {
	Name string `yaml:"-"` // the entry's name, for messages and metrics
	// Targets are the upstream's servers, used in turn: absolute http:// or
	// https:// URLs with a host, no credentials, query or fragment, and an
	// empty or "/" path; required.
	Targets []*url.URL `yaml:"targets" conf:"required"`
	// Timeout bounds connecting plus waiting for response headers. 0 means 30s.
	Timeout time.Duration `yaml:"timeout" default:"30s" conf:"positive"`
	// MaskErrors replaces 5xx response bodies with a generic problem, so
	// stack traces and internal details do not reach clients.
	MaskErrors bool `yaml:"mask_upstream_errors" default:"true"`
	// BufferResponse reads each response body whole (up to
	// buffer_response_bytes, in memory or spilled within the server's body
	// budget) before sending it to the client, so that the upstream
	// connection (often a whole worker process) is free again as soon as
	// the upstream has answered, however slowly the client reads. A larger
	// body, or one that finds the budget exhausted, is streamed from where
	// the buffer ends. Event streams are never buffered.
	BufferResponse bool `yaml:"buffer_response"`
	// BufferResponseBytes is the most of one response buffered with
	// buffer_response.
	BufferResponseBytes conf.Size `yaml:"buffer_response_bytes" default:"8MiB" conf:"min=1KiB,max=1GiB"`
	// Spool is the body budget response buffering draws on (set by the
	// gateway).
	Spool *spool.Budget `yaml:"-"`
	// Tracer, when set, wraps each forwarded request in an upstream span
	// and sends its traceparent (set by the gateway; nil: tracing off).
	Tracer *tracing.Tracer `yaml:"-"`
	// DownFor is how long a failed target is skipped. 0 means 10s.
	DownFor time.Duration `yaml:"-"`
	// TLS, when set, is the base client TLS configuration for https targets
	// (tests use it to trust httptest's certificate through RootCAs). nil
	// means system roots. ServerName defaults to the target's host, MinVersion
	// is raised to TLS 1.2 and NextProtos is always ["http/1.1"].
	TLS *tls.Config `yaml:"-"`
}

// Upstream forwards requests to one pool of targets. It is an http.Handler.
type Upstream struct {
	name    string
	targets []*target
	next    atomic.Uint32
	downFor time.Duration
	mask    bool
	obs     pipeline.Observer
	timeout time.Duration
	dialer  *net.Dialer
	// bufferMax is buffer_response_bytes with buffer_response, else 0.
	bufferMax int64
	spool     *spool.Budget
	tracer    *tracing.Tracer
	closed    atomic.Bool
}

type target struct {
	url       *url.URL
	addr      string      // host:port to dial
	tls       *tls.Config // nil for http
	pool      connPool
	downUntil atomic.Int64 // unix nanos; 0 = healthy
}

func nowNano() int64 { return time.Now().UnixNano() }

// New builds an upstream. obs is told about 502/504s (may be nil).
func New(cfg Config, obs pipeline.Observer) (*Upstream, error) {
	if len(cfg.Targets) == 0 {
		return nil, errors.New("upstream " + strconv.Quote(cfg.Name) + ": no targets")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.DownFor <= 0 {
		cfg.DownFor = 10 * time.Second
	}
	u := &Upstream{name: cfg.Name, downFor: cfg.DownFor, mask: cfg.MaskErrors, obs: obs, timeout: cfg.Timeout, tracer: cfg.Tracer}
	if cfg.BufferResponse {
		if cfg.Spool == nil || cfg.BufferResponseBytes <= 0 {
			return nil, errors.New("upstream " + strconv.Quote(cfg.Name) + ": buffer_response needs a body budget and a positive buffer_response_bytes")
		}
		u.bufferMax, u.spool = int64(cfg.BufferResponseBytes), cfg.Spool
	}
	for _, t := range cfg.Targets {
		if t.Scheme != "http" && t.Scheme != "https" || t.Host == "" {
			return nil, errors.New("upstream " + strconv.Quote(cfg.Name) + ": target must be an http(s) URL with a host")
		}
		tg := &target{url: t, addr: t.Host}
		if t.Port() == "" {
			port := "80"
			if t.Scheme == "https" {
				port = "443"
			}
			tg.addr = net.JoinHostPort(t.Hostname(), port)
		}
		if t.Scheme == "https" {
			c := &tls.Config{}
			if cfg.TLS != nil {
				c = cfg.TLS.Clone()
			}
			if c.ServerName == "" {
				c.ServerName = t.Hostname()
			}
			if c.MinVersion < tls.VersionTLS12 {
				c.MinVersion = tls.VersionTLS12
			}
			c.NextProtos = []string{"http/1.1"}
			tg.tls = c
		}
		u.targets = append(u.targets, tg)
	}
	dialTimeout := min(cfg.Timeout, 5*time.Second)
	u.dialer = &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return u, nil
}

// Close releases idle upstream connections (after a reload swapped us out).
func (u *Upstream) Close() {
	u.closed.Store(true)
	for _, t := range u.targets {
		t.pool.closeAll(true)
	}
}

// ServeHTTP forwards r to a target (see the package documentation).
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.serve(w, r) }

// pick returns the next healthy target in round-robin order, or, when all are
// down, the one that comes back soonest (failing open to "try something" beats
// a guaranteed 502).
func (u *Upstream) pick(now int64, skip *target) *target {
	n := uint32(len(u.targets))
	start := u.next.Add(1) - 1
	var best *target
	for i := uint32(0); i < n; i++ {
		t := u.targets[(start+i)%n]
		if t == skip && n > 1 {
			continue
		}
		if t.downUntil.Load() <= now {
			return t
		}
		if best == nil || t.downUntil.Load() < best.downUntil.Load() {
			best = t
		}
	}
	return best
}

func (t *target) markDown(now int64, d time.Duration) { t.downUntil.Store(now + int64(d)) }

func problemBody(status int, typ, detail, id string) string {
	rec := &bodyRecorder{header: http.Header{}}
	req := &http.Request{Method: http.MethodGet}
	if id != "" {
		req = pipeline.WithInfo(req.WithContext(context.Background()), &pipeline.Info{ID: id})
	} else {
		req = req.WithContext(context.Background())
	}
	pipeline.WriteProblem(rec, req, &pipeline.Rejection{Status: status, Type: typ, Detail: detail})
	return rec.body.String()
}

// errorHandler answers when no response came: 504 on timeouts, 502 otherwise.
func (u *Upstream) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody will read an answer.
		w.WriteHeader(499)
		return
	}
	var rej *pipeline.Rejection
	if errors.As(err, &rej) {
		// A streamed request body failed (buffer_request: false): the
		// client's fault, answered as when the body is buffered.
		pipeline.Refuse(w, r, "body", u.obs, rej)
		return
	}
	rej = &pipeline.Rejection{Status: http.StatusBadGateway, Type: "upstream-unavailable",
		Detail: "The upstream service could not be reached.", Err: err}
	if isTimeout(err) {
		rej.Status, rej.Type, rej.Detail = http.StatusGatewayTimeout, "upstream-timeout",
			"The upstream service did not answer in time."
	}
	pipeline.Refuse(w, r, "proxy", u.obs, rej)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ForwardedFor formats the X-Forwarded-For chain.
func ForwardedFor(chain []netip.Addr) string {
	if len(chain) == 1 {
		return chain[0].String()
	}
	b := make([]byte, 0, 16*len(chain))
	for i, a := range chain {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = a.AppendTo(b)
	}
	return string(b)
}

var buffers = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// bodyRecorder is a minimal ResponseWriter for building problem bodies.
type bodyRecorder struct {
	header http.Header
	body   strings.Builder
}

func (b *bodyRecorder) Header() http.Header         { return b.header }
func (b *bodyRecorder) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bodyRecorder) WriteHeader(int)             {}
