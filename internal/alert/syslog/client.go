// Package syslog forwards Rampart's audit events (and optionally its access
// lines) to a SIEM as RFC 5424 messages over TCP or TLS (RFC 5425), framed
// by octet counting (RFC 6587). A Tee sits under the log stream and hands
// every whole line to a Client, which keeps the audit ones in a bounded
// buffer; one goroutine writes them to the collector and reconnects with
// backoff. A slow or dead collector never slows the logger: past the
// buffer's budget new messages are dropped and counted.
package syslog

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Reconnect backoff; variables so tests can shorten them.
var (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// Stats are a Client's counts.
type Stats struct {
	Sent, Dropped uint64
	Up            bool // connected to the collector now
}

// Client sends messages to one collector.
type Client struct {
	cfg      Config
	tls      *tls.Config // nil for tcp://
	hostport string
	hd       header
	logger   *slog.Logger

	mu      sync.Mutex
	work    sync.Cond
	buf     []byte // framed messages waiting
	frames  uint64 // messages in buf
	spare   []byte
	scratch []byte
	closing bool
	stop    context.Context // cancelled when Close gives up waiting
	giveUp  context.CancelFunc
	done    chan struct{}

	sent, dropped atomic.Uint64
	up            atomic.Bool
}

// New checks cfg, loads its TLS files and starts the sending goroutine (it
// connects in the background: a collector that is down at start is
// retried, its messages kept within the budget). logger may be nil.
func New(cfg Config, logger *slog.Logger) (*Client, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("syslog: %w", errors.Join(errs...))
	}
	tlsOn, hostport, _ := parseAddress(cfg.Address, cfg.AllowInsecure)
	if cfg.AppName == "" {
		cfg.AppName = "rampart"
	}
	if cfg.Facility == "" {
		cfg.Facility = "authpriv"
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 4 << 20
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	host := cfg.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, hostport: hostport, logger: logger, done: make(chan struct{}),
		hd: header{facility: facilities[cfg.Facility],
			rest: []byte(" " + sanitize(host, 255) + " " + cfg.AppName + " " + strconv.Itoa(os.Getpid()) + " ")}}
	c.work.L = &c.mu
	c.stop, c.giveUp = context.WithCancel(context.Background())
	if tlsOn {
		var err error
		if c.tls, err = tlsConfig(cfg, hostport); err != nil {
			return nil, err
		}
	}
	go c.run()
	return c, nil
}

func tlsConfig(cfg Config, hostport string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	if tc.ServerName == "" {
		tc.ServerName, _, _ = net.SplitHostPort(hostport)
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("syslog: ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("syslog: ca_file %s holds no PEM certificate", cfg.CAFile)
		}
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("syslog: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Stats returns the counts so far.
func (c *Client) Stats() Stats {
	return Stats{Sent: c.sent.Load(), Dropped: c.dropped.Load(), Up: c.up.Load()}
}

// WriteLines queues the audit events among p's lines (whole lines, each
// ending in a newline but maybe the last) and, with include_access, the
// access lines. It never blocks on the collector.
func (c *Client) WriteLines(p []byte) {
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		h := parseHead(line)
		if h.kind == kindAudit || h.kind == kindAccess && c.cfg.IncludeAccess {
			c.enqueue(h, line)
		}
	}
}

// enqueue frames one message ("LEN MSG") into the buffer, or drops it when
// the buffer is over budget.
func (c *Client) enqueue(h head, line []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scratch = c.hd.appendMessage(c.scratch[:0], h, line)
	n := len(c.scratch)
	if c.closing || len(c.buf)+n+12 > int(c.cfg.Queue) {
		c.dropped.Add(1)
		return
	}
	wasEmpty := len(c.buf) == 0
	c.buf = strconv.AppendInt(c.buf, int64(n), 10)
	c.buf = append(c.buf, ' ')
	c.buf = append(c.buf, c.scratch...)
	c.frames++
	if wasEmpty { // the sender may be waiting
		c.work.Signal()
	}
}

// Close sends what is queued until ctx is done, then drops the rest
// (counted) and closes the connection.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closing = true
	c.work.Signal()
	c.mu.Unlock()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		c.giveUp()
		<-c.done
		return ctx.Err()
	}
}

// conn is a connection and a signal that the collector closed it (a
// reader goroutine watches it, so a collector that went away is noticed
// before the next write goes into the void).
type conn struct {
	net.Conn
	gone chan struct{}
}

func (c *Client) dial() (*conn, error) {
	d := &net.Dialer{Timeout: c.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	var nc net.Conn
	var err error
	if c.tls != nil {
		td := &tls.Dialer{NetDialer: d, Config: c.tls}
		nc, err = td.DialContext(c.stop, "tcp", c.hostport)
	} else {
		nc, err = d.DialContext(c.stop, "tcp", c.hostport)
	}
	if err != nil {
		return nil, err
	}
	cn := &conn{Conn: nc, gone: make(chan struct{})}
	go func() {
		// Collectors never send; any read result means the connection ended.
		_, _ = io.Copy(io.Discard, io.LimitReader(nc, 1<<20))
		close(cn.gone)
	}()
	return cn, nil
}

func (c *Client) run() {
	defer close(c.done)
	defer c.giveUp()
	var cn *conn
	var out []byte // a batch being sent, kept across reconnects
	var outFrames uint64
	failures := 0
	defer func() {
		if cn != nil {
			cn.Close()
		}
		c.up.Store(false)
		c.mu.Lock()
		c.dropped.Add(outFrames + c.frames)
		c.buf, c.frames = nil, 0
		c.mu.Unlock()
	}()
	for {
		c.mu.Lock()
		for len(out) == 0 && len(c.buf) == 0 && !c.closing {
			c.work.Wait()
		}
		if len(out) == 0 {
			if len(c.buf) == 0 { // closing, all sent
				c.mu.Unlock()
				return
			}
			out, outFrames = c.buf, c.frames
			c.buf, c.frames, c.spare = c.spare[:0], 0, nil
		}
		c.mu.Unlock()

		if cn != nil {
			select {
			case <-cn.gone:
				cn.Close()
				cn = nil
				c.lost(errors.New("the collector closed the connection"))
			default:
			}
		}
		if cn == nil {
			var err error
			if cn, err = c.dial(); err != nil {
				failures++
				if failures == 1 {
					c.logger.Warn("syslog: cannot connect to the collector; audit events wait in the queue and are dropped past it",
						"address", c.hostport, "error", err.Error())
				}
				if !c.sleep(backoff(failures)) {
					return
				}
				continue
			}
			if failures > 0 {
				c.logger.Info("syslog: connected to the collector", "address", c.hostport, "after_failures", failures)
			}
			failures = 0
			c.up.Store(true)
		}
		_ = cn.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
		if _, err := cn.Write(out); err != nil {
			cn.Close()
			cn = nil
			c.lost(err)
			failures++
			if !c.sleep(backoff(failures)) {
				return
			}
			continue // out is sent again on the next connection
		}
		c.sent.Add(outFrames)
		c.mu.Lock()
		if cap(out) <= 2*int(c.cfg.Queue) {
			c.spare = out[:0]
		}
		c.mu.Unlock()
		out, outFrames = nil, 0
		if c.stop.Err() != nil {
			return
		}
	}
}

func (c *Client) lost(err error) {
	c.up.Store(false)
	c.logger.Warn("syslog: connection to the collector lost; reconnecting", "address", c.hostport, "error", err.Error())
}

// sleep waits d, or until Close gives up; false when it did.
func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.stop.Done():
		return false
	}
}

// backoff is the wait after the n-th consecutive failure: exponential with
// jitter, capped.
func backoff(n int) time.Duration {
	ceiling := min(minBackoff<<min(n-1, 20), maxBackoff)
	return ceiling/2 + mrand.N(ceiling/2+1)
}
