package scan

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxBody bounds what is read of each response.
const maxBody = 1 << 20

var (
	errBudget = errors.New("request budget exhausted")
	errUnsafe = errors.New("unsafe method refused without --allow-unsafe")
)

// kind says why a request was sent; passive checks look at some kinds only.
type kind int

const (
	kindBaseline  kind = iota // a normal request to an operation (or the base URL)
	kindProbe                 // a deliberately unusual request
	kindInventory             // a well-known path
	kindBurst                 // the rate-limit burst
)

// request is what a check asks the client to send.
type request struct {
	method string
	// target is the raw request-target (path and query), sent byte for byte:
	// path tricks must reach the server exactly as written.
	target string
	header http.Header
	body   []byte
	kind   kind
	// credNote replaces the value of a credential header in evidence when
	// the credential is one the scanner forged ("forged JWT: alg none...").
	credNote string
	creds    bool     // carries the user's own credential
	origin   *url.URL // another origin than the target's (the plain-HTTP probe); nil = the target
}

// exchange is one request and its response.
type exchange struct {
	req     *request
	url     string
	status  int
	header  http.Header
	body    []byte
	tls     *tls.ConnectionState
	elapsed time.Duration
}

// client sends requests within the budget and under the rate cap, never
// follows redirects, and reads at most maxBody of each response.
type client struct {
	hc          *http.Client
	origin      *url.URL // scheme and host of the target
	bucket      *bucket
	allowUnsafe bool
	userAgent   string
	roots       *x509.CertPool
	timeout     time.Duration

	mu       sync.Mutex
	max      int
	reserved int
	sent     int
	errors   int
	pinned   []byte // leaf certificate accepted on first use when it does not verify
	phase    string

	observe  func(*exchange)
	progress func(Progress)
}

// Progress is reported after every request.
type Progress struct {
	Sent, Budget int
	Phase        string
}

func newClient(opts *Options, origin *url.URL) *client {
	c := &client{origin: origin, bucket: newBucket(opts.Rate, 1), allowUnsafe: opts.AllowUnsafe,
		userAgent: "rampart-scan/" + opts.Version, roots: opts.RootCAs, max: opts.MaxRequests,
		timeout: opts.Timeout, progress: opts.Progress}
	dialer := &net.Dialer{Timeout: opts.Timeout}
	tr := &http.Transport{
		Proxy:                 nil, // the scan talks to the target, not through whatever HTTP_PROXY says
		DialContext:           dialer.DialContext,
		TLSClientConfig:       c.tlsConfig(0, 0),
		TLSHandshakeTimeout:   opts.Timeout,
		ResponseHeaderTimeout: opts.Timeout,
		DisableCompression:    true,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	c.hc = &http.Client{
		Transport: tr,
		Timeout:   opts.Timeout,
		// Never follow: a redirect is part of what is being judged, and it
		// may point at a host the user did not ask us to scan.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// tlsConfig verifies against the roots when it can; a certificate that does
// not verify (self-signed, expired — reported by TLS005) is accepted on first
// use and pinned, so a certificate that changes mid-scan is refused.
func (c *client) tlsConfig(minV, maxV uint16) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		MinVersion:         minV,
		MaxVersion:         maxV,
		VerifyConnection:   c.verifyConnection,
	}
}

func (c *client) verifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	if verifyChain(cs, c.roots, time.Now()) == nil {
		return nil
	}
	leaf := cs.PeerCertificates[0].Raw
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pinned == nil {
		c.pinned = bytes.Clone(leaf)
		return nil
	}
	if bytes.Equal(c.pinned, leaf) {
		return nil
	}
	return errors.New("the server's untrusted certificate changed during the scan")
}

func verifyChain(cs tls.ConnectionState, roots *x509.CertPool, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: cs.ServerName, Roots: roots, Intermediates: inter, CurrentTime: now})
	return err
}

// reserve sets aside n requests of the budget for a later phase.
func (c *client) reserve(n int) {
	c.mu.Lock()
	c.reserved = n
	c.mu.Unlock()
}

// release returns the reservation to the budget.
func (c *client) release() { c.reserve(0) }

func (c *client) remaining() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max - c.sent - c.reserved
}

func (c *client) setPhase(p string) {
	c.mu.Lock()
	c.phase = p
	c.mu.Unlock()
}

// take counts one request against the budget and waits for the rate cap.
func (c *client) take(ctx context.Context) error {
	c.mu.Lock()
	if c.sent+c.reserved >= c.max {
		c.mu.Unlock()
		return errBudget
	}
	c.sent++
	sent, max, phase := c.sent, c.max, c.phase
	c.mu.Unlock()
	if err := c.bucket.wait(ctx); err != nil {
		return err
	}
	if c.progress != nil {
		c.progress(Progress{Sent: sent, Budget: max, Phase: phase})
	}
	return nil
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// do sends r to the target. A transport failure (no response) is returned
// as an error and counted; a response of any status is not an error.
func (c *client) do(ctx context.Context, r *request) (*exchange, error) {
	if !isSafeMethod(r.method) && !c.allowUnsafe {
		return nil, errUnsafe
	}
	if r.method == http.MethodDelete {
		return nil, errors.New("DELETE is never sent") // not even with --allow-unsafe
	}
	if err := c.take(ctx); err != nil {
		return nil, err
	}
	origin := c.origin
	if r.origin != nil {
		origin = r.origin
	}
	u := &url.URL{Scheme: origin.Scheme, Host: origin.Host}
	path, query, hasQuery := strings.Cut(r.target, "?")
	if strings.HasPrefix(path, "//") {
		// Opaque "//x" would be read as an authority: use Path/RawPath,
		// which net/http writes as is when they agree.
		u.Path, u.RawPath = path, path
		if p, err := url.PathUnescape(path); err == nil {
			u.Path = p
		}
	} else {
		u.Opaque = path
	}
	if hasQuery {
		u.RawQuery = query
		u.ForceQuery = query == ""
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, origin.Scheme+"://"+origin.Host+"/", body)
	if err != nil {
		return nil, err
	}
	req.URL = u // the raw target, as built above
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json, */*;q=0.5")
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	ex := &exchange{req: r, url: origin.Scheme + "://" + origin.Host + r.target}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.mu.Lock()
		c.errors++
		c.mu.Unlock()
		return nil, fmt.Errorf("%s %s: %w", r.method, ex.url, unwrapURLError(err))
	}
	defer resp.Body.Close()
	ex.body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	ex.elapsed = time.Since(start)
	ex.status, ex.header, ex.tls = resp.StatusCode, resp.Header, resp.TLS
	if err != nil {
		c.mu.Lock()
		c.errors++
		c.mu.Unlock()
		return nil, fmt.Errorf("%s %s: reading the body: %w", r.method, ex.url, err)
	}
	if c.observe != nil {
		c.observe(ex)
	}
	return ex, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// handshake counts against the budget like a request and returns the
// connection state of a TLS handshake limited to [minV, maxV].
func (c *client) handshake(ctx context.Context, minV, maxV uint16) (*tls.ConnectionState, error) {
	if err := c.take(ctx); err != nil {
		return nil, err
	}
	host := c.origin.Hostname()
	addr := c.origin.Host
	if c.origin.Port() == "" {
		addr = net.JoinHostPort(host, "443")
	}
	cfg := c.tlsConfig(minV, maxV)
	cfg.ServerName = host
	// The legacy-version probe must be able to offer what old servers speak.
	if maxV != 0 && maxV < tls.VersionTLS12 {
		cfg.CipherSuites = legacySuites()
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: c.timeout}, Config: cfg}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st := conn.(*tls.Conn).ConnectionState()
	return &st, nil
}

func legacySuites() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		ids = append(ids, s.ID)
	}
	return ids
}

func (c *client) stats() (sent, errs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent, c.errors
}
