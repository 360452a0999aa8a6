package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// tlsAcceptor terminates TLS itself so that the protocol ALPN chose decides
// which server parses the connection. After the handshake an "h2" connection
// goes to an HTTP/2 server (its framing has no request-smuggling shapes);
// anything else is handed, as a *tls.Conn, to Rampart's strict HTTP/1 server
// (internal/h1) through a listener.
type tlsAcceptor struct {
	raw      net.Listener
	cfg      *tls.Config
	deadline time.Duration // handshake timeout
	h2       *http2.Server
	srv      *http.Server
	logger   *slog.Logger

	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newTLSAcceptor(raw net.Listener, cfg *tls.Config, handshake time.Duration, srv *http.Server, logger *slog.Logger) (*tlsAcceptor, error) {
	h2 := &http2.Server{IdleTimeout: srv.IdleTimeout, MaxReadFrameSize: 1 << 20}
	// ConfigureServer hooks graceful shutdown of HTTP/2 connections into srv.
	if err := http2.ConfigureServer(srv, h2); err != nil {
		return nil, err
	}
	a := &tlsAcceptor{raw: raw, cfg: cfg, deadline: handshake, h2: h2, srv: srv, logger: logger,
		conns: make(chan net.Conn), closed: make(chan struct{})}
	go a.acceptLoop()
	return a, nil
}

func (a *tlsAcceptor) acceptLoop() {
	for {
		c, err := a.raw.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond) // transient (EMFILE and kin): back off like net/http
				continue
			}
			a.Close()
			return
		}
		go a.handshake(c)
	}
}

func (a *tlsAcceptor) handshake(c net.Conn) {
	tc := tls.Server(c, a.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), a.deadline)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		a.logger.Debug("tls handshake failed", "remote", c.RemoteAddr().String(), "error", err.Error())
		_ = c.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS {
		a.h2.ServeConn(tc, &http2.ServeConnOpts{
			Context:    context.WithValue(context.Background(), tlsStateKey{}, stateOf(tc)),
			BaseConfig: a.srv,
			Handler:    a.srv.Handler,
		})
		return
	}
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

type tlsStateKey struct{}

func stateOf(tc *tls.Conn) *tls.ConnectionState {
	st := tc.ConnectionState()
	return &st
}

// withTLSState restores r.TLS from the connection context.
func withTLSState(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
				r.TLS = st
			}
		}
		h.ServeHTTP(w, r)
	})
}

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
