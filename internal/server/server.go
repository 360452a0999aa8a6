// Package server runs the listeners: the public gateway listener (Rampart's
// strict HTTP/1 server, internal/h1, which refuses request-smuggling shapes
// before anything is routed; HTTP/2 over TLS with ALPN; slowloris-safe
// timeouts and header limits) and the admin listener. It swaps compiled gateways atomically on reload, so a request
// runs entirely on the gateway that accepted it, and drains in-flight requests
// on shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/framing"
	"github.com/rampart-gw/rampart/internal/gateway"
	"github.com/rampart-gw/rampart/internal/h1"
	"github.com/rampart-gw/rampart/internal/keystore"
	"github.com/rampart-gw/rampart/internal/lockout"
	"github.com/rampart-gw/rampart/internal/metrics"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/ratelimit/backend"
	"github.com/rampart-gw/rampart/internal/tlsconfig"
)

// Options are Run's collaborators; all optional.
type Options struct {
	Logger *slog.Logger
	// LogSink, when set, is the group-commit writer Logger's JSON handler
	// writes to: access lines and audit events are then encoded directly
	// into it (see audit.NewWithSink) instead of going through slog.
	LogSink *audit.Sink
	// Listener, AdminListener and RedirectListener, when set, are used
	// instead of opening cfg.Server.Listen / cfg.Admin.Listen /
	// cfg.Server.HTTPRedirect (tests and the demo pass ":0" ones).
	Listener, AdminListener, RedirectListener net.Listener
	// Ready is called once both listeners accept connections.
	Ready func(addr, adminAddr net.Addr)
	// Reload triggers a reload: Load is called for the new config, which is
	// compiled off to the side and swapped in atomically; on any error the
	// running config stays. Listener settings (addresses, TLS files, limits
	// and timeouts) need a restart: a change to them is reported, not applied.
	Reload <-chan struct{}
	Load   func() (*config.Config, error)
	// Reloaded, when set, is called after each reload attempt with its outcome.
	Reloaded func(error)
}

// Run serves until ctx is done, then drains in-flight requests for up to
// server.shutdown_timeout.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	m := metrics.New()
	aud := audit.NewWithSink(logger, opts.LogSink, m)
	// Rate-limit state outlives reloads: counters must not reset when the
	// config changes.
	rl, err := backend.Open(cfg.SharedState, cfg.SharedStateFailure, logger)
	if err != nil {
		return fmt.Errorf("shared_state: %w", err)
	}
	defer rl.Close()
	m.SharedState(func() bool { return rl.Err() == nil })
	// The key store and lockout counters also outlive reloads.
	keys, err := keystore.OpenIfUsed(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if keys != nil {
		defer keys.Close() // after the gateway: closing it flushes last-used times
	}
	// Lockout counters live in shared_state too: in Redis every replica sees
	// the same failures, so guesses cannot be spread over replicas.
	var lockouts lockout.Backend = lockout.NewMemory(lockout.MemoryOptions{})
	if strings.HasPrefix(cfg.SharedState, "redis://") || strings.HasPrefix(cfg.SharedState, "rediss://") {
		lr, err := lockout.OpenRedis(cfg.SharedState)
		if err != nil {
			return err
		}
		defer lr.Close()
		if cfg.SharedStateFailure == "local" {
			lockouts = lockout.WithFallback(lr, lockouts)
		} else {
			lockouts = lr
		}
	}
	deps := gateway.Deps{Logger: logger, Observer: aud, Access: aud, Metrics: m, RateLimit: rl,
		Keys: keys, Lockout: lockouts}
	gw, err := gateway.New(cfg, deps)
	if err != nil {
		return err
	}
	var current atomic.Pointer[gateway.Gateway]
	current.Store(gw)
	var draining atomic.Bool

	ln := opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
			gw.Close()
			return fmt.Errorf("listen %s: %w", cfg.Server.Listen, err)
		}
	}
	errLog := log.New(slogWriter{logger}, "", 0)
	handler := withTLSState(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { current.Load().ServeHTTP(w, r) }))
	// srv serves HTTP/1.x with Rampart's strict parser; the heads it refuses
	// are answered by the gateway too (HTTP/2 has no such heads).
	srv := &h1.Server{
		Handler: handler,
		Reject: func(w http.ResponseWriter, r *http.Request, reason framing.Reason) {
			current.Load().ServeRejected(w, r, reason)
		},
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout,
		WriteTimeout:      cfg.Server.WriteTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		Logger:            logger,
		ConnContext:       pipeline.WatchClient,
	}
	// h2base only configures HTTP/2 over TLS (x/net/http2 takes its
	// timeouts and handler, and its Shutdown tells h2 connections to go away).
	h2base := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout,
		WriteTimeout:      cfg.Server.WriteTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          errLog,
	}

	if cfg.Server.TLS != nil {
		tlsCfg, err := tlsconfig.New(cfg.Server.TLS, logger)
		if err != nil {
			ln.Close()
			gw.Close()
			return err
		}
		acc, err := newTLSAcceptor(ln, tlsCfg, cfg.Server.ReadHeaderTimeout, h2base, logger)
		if err != nil {
			ln.Close()
			gw.Close()
			return err
		}
		ln = acc
	}

	var redirectSrv *http.Server
	redirectLn := opts.RedirectListener
	if cfg.Server.TLS != nil && (cfg.Server.HTTPRedirect != "" || redirectLn != nil) {
		if redirectLn == nil {
			if redirectLn, err = net.Listen("tcp", cfg.Server.HTTPRedirect); err != nil {
				ln.Close()
				gw.Close()
				return fmt.Errorf("http_redirect listen %s: %w", cfg.Server.HTTPRedirect, err)
			}
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		redirectSrv = &http.Server{Handler: redirectHandler(port), ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second,
			MaxHeaderBytes: cfg.Server.MaxHeaderBytes, ErrorLog: errLog}
	}

	var adminSrv *http.Server
	adminLn := opts.AdminListener
	if cfg.Admin.Listen != "" || adminLn != nil {
		if adminLn == nil {
			if adminLn, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
				ln.Close()
				gw.Close()
				return fmt.Errorf("admin listen %s: %w", cfg.Admin.Listen, err)
			}
		}
		ah := admin.New(cfg.Admin.Token, func() bool { return !draining.Load() && rl.Ready() == nil })
		ah.Handle("GET /metrics", m.Handler())
		if keys != nil {
			api, err := admin.NewKeysAPI(admin.KeysConfig{Store: keys, Audit: logger})
			if err != nil {
				ln.Close()
				gw.Close()
				return err
			}
			api.Mount(ah)
		}
		adminSrv = &http.Server{Handler: ah, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10, ErrorLog: errLog}
	}

	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(ln) }()
	if redirectSrv != nil {
		go func() { errc <- redirectSrv.Serve(redirectLn) }()
	}
	if adminSrv != nil {
		go func() { errc <- adminSrv.Serve(adminLn) }()
	}
	var adminAddr net.Addr
	if adminLn != nil {
		adminAddr = adminLn.Addr()
	}
	logger.Info("rampart serving", "listen", ln.Addr().String(), "admin", fmt.Sprint(adminAddr), "routes", len(cfg.Routes))
	if opts.Ready != nil {
		opts.Ready(ln.Addr(), adminAddr)
	}

	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			serveErr = err
			break loop
		case <-opts.Reload:
			next, err := opts.Load()
			var ngw *gateway.Gateway
			if err == nil {
				rdeps := deps
				rdeps.Previous = current.Load()
				ngw, err = gateway.New(next, rdeps)
			}
			m.Reloaded(err)
			if err != nil {
				logger.Error("reload refused; keeping the running config", "error", err.Error())
			} else {
				old := current.Swap(ngw)
				// Requests already on the old gateway keep its upstream pools;
				// idle connections are closed now, busy ones when they finish.
				old.Close()
				logger.Info("config reloaded", "routes", len(next.Routes))
				if next.Store != cfg.Store {
					logger.Warn("store changed: restart rampart to apply it; API keys keep using the running store")
				}
				if !rl.Same(next.SharedState, next.SharedStateFailure) {
					logger.Warn("shared_state changed: restart rampart to apply it; rate limits keep using the running backend")
				}
				if listenerSettings(next) != listenerSettings(cfg) {
					logger.Warn("listener settings changed (addresses, TLS, limits or timeouts): restart rampart to apply them; routes and policies were reloaded")
				}
			}
			if opts.Reloaded != nil {
				opts.Reloaded(err)
			}
		}
	}

	draining.Store(true)
	logger.Info("shutting down: draining in-flight requests", "timeout", cfg.Server.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	_ = h2base.Shutdown(sctx)
	if adminSrv != nil {
		_ = adminSrv.Shutdown(sctx)
	}
	if redirectSrv != nil {
		_ = redirectSrv.Shutdown(sctx)
	}
	current.Load().Close()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// slogWriter routes net/http's internal error log (TLS handshake errors,
// panics recovered in handlers) to the structured logger.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("http server", "message", string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}

// listenerSettings summarises what a reload cannot change.
func listenerSettings(c *config.Config) string {
	srv := c.Server
	srv.TrustedProxies = nil // applied per request by the gateway: reloadable
	srv.MaxQueryParams = 0   // likewise
	tls := ""
	if srv.TLS != nil {
		tls = fmt.Sprintf("%+v", *srv.TLS)
	}
	srv.TLS = nil
	return fmt.Sprintf("%+v|%s|%s", srv, tls, c.Admin.Listen)
}
