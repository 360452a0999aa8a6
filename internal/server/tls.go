package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rampart-gw/rampart/internal/h1"
	"github.com/rampart-gw/rampart/internal/h2"
	"github.com/rampart-gw/rampart/internal/sockio"
)

// tlsAcceptor terminates TLS itself so that the protocol ALPN chose decides
// which server parses the connection. After the handshake an "h2" connection
// goes to Rampart's HTTP/2 server (internal/h2; its framing has no
// request-smuggling shapes, and it refuses malformed requests itself);
// anything else is handed, as a *tls.Conn, to Rampart's strict HTTP/1 server
// (internal/h1) through a listener.
//
// Connections still handshaking and HTTP/2 ones count, with the HTTP/1
// server's, towards its MaxConns: at the bound the HTTP/1 connection idle
// the longest is closed to make room, and if none is idle the new
// connection is closed (before the handshake no status can be sent).
type tlsAcceptor struct {
	raw      net.Listener
	cfg      *tls.Config
	deadline time.Duration // handshake timeout
	h2       *h2.Server
	h1       *h1.Server
	logger   *slog.Logger
	others   atomic.Int64 // connections handshaking or served by h2

	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newTLSAcceptor(raw net.Listener, cfg *tls.Config, handshake time.Duration, h2srv *h2.Server,
	h1srv *h1.Server, logger *slog.Logger) *tlsAcceptor {
	a := &tlsAcceptor{raw: raw, cfg: cfg, deadline: handshake, h2: h2srv, h1: h1srv, logger: logger,
		conns: make(chan net.Conn), closed: make(chan struct{})}
	go a.acceptLoop()
	return a
}

func (a *tlsAcceptor) acceptLoop() {
	var delay time.Duration
	for {
		c, err := a.raw.Accept()
		if err != nil {
			var t interface{ Temporary() bool }
			if errors.As(err, &t) && t.Temporary() {
				// Transient (EMFILE and kin): back off like net/http,
				// and free a descriptor if an idle connection holds one.
				if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
					a.h1.CloseIdlest()
				}
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				a.logger.Warn("tls: accept error; retrying", "error", err.Error(), "delay", delay.String())
				time.Sleep(delay)
				continue
			}
			a.Close()
			return
		}
		delay = 0
		if !a.admit() {
			_ = c.Close()
			continue
		}
		go a.handshake(c)
	}
}

// admit counts a new connection in, making room under the HTTP/1 server's
// MaxConns by closing its idlest connection.
func (a *tlsAcceptor) admit() bool {
	if limit := int64(a.h1.MaxConns); limit > 0 && a.others.Load()+a.h1.Conns() >= limit && !a.h1.CloseIdlest() {
		return false
	}
	a.others.Add(1)
	return true
}

func (a *tlsAcceptor) handshake(c net.Conn) {
	counted := true
	defer func() {
		if counted {
			a.others.Add(-1)
		}
	}()
	tc := tls.Server(sockio.Wrap(c), a.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), a.deadline)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		a.logger.Debug("tls handshake failed", "remote", c.RemoteAddr().String(), "error", err.Error())
		_ = c.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		a.h2.ServeConn(context.Background(), tc) // it sets each request's TLS state
		return
	}
	a.others.Add(-1) // the HTTP/1 server counts it from now on
	counted = false
	select {
	case a.conns <- tc:
	case <-a.closed:
		_ = tc.Close()
	}
}

// Accept implements net.Listener for the HTTP/1 server.
func (a *tlsAcceptor) Accept() (net.Conn, error) {
	select {
	case c := <-a.conns:
		return c, nil
	case <-a.closed:
		return nil, net.ErrClosed
	}
}

func (a *tlsAcceptor) Close() error {
	a.once.Do(func() {
		close(a.closed)
		_ = a.raw.Close()
	})
	return nil
}

func (a *tlsAcceptor) Addr() net.Addr { return a.raw.Addr() }

// redirectHandler answers every plain-HTTP request with 308 to the same host
// and path over https (nothing is proxied over plain HTTP when TLS is on).
func redirectHandler(httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" {
			http.Error(w, "Host required", http.StatusBadRequest)
			return
		}
		if httpsPort != "443" && httpsPort != "" {
			host = net.JoinHostPort(host, httpsPort)
		} else if len(host) > 0 && host[0] != '[' && net.ParseIP(host) != nil && net.ParseIP(host).To4() == nil {
			host = "[" + host + "]"
		}
		target := "https://" + host + r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}
