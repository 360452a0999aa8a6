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
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/alert"
	"github.com/rampart-gw/rampart/internal/alert/sinks"
	"github.com/rampart-gw/rampart/internal/alert/syslog"
	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/auth/apikey"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/dashboard"
	"github.com/rampart-gw/rampart/internal/detect"
	"github.com/rampart-gw/rampart/internal/framing"
	"github.com/rampart-gw/rampart/internal/gateway"
	"github.com/rampart-gw/rampart/internal/h1"
	"github.com/rampart-gw/rampart/internal/h2"
	"github.com/rampart-gw/rampart/internal/keystore"
	"github.com/rampart-gw/rampart/internal/lockout"
	"github.com/rampart-gw/rampart/internal/metrics"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/ratelimit/backend"
	"github.com/rampart-gw/rampart/internal/stats"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/tlsconfig"
	"github.com/rampart-gw/rampart/internal/tracing"
	"github.com/rampart-gw/rampart/internal/trim"
)

// Options are Run's collaborators; all optional.
type Options struct {
	Logger *slog.Logger
	// LogSink, when set, is the group-commit writer Logger's JSON handler
	// writes to: access lines and audit events are then encoded directly
	// into it (see audit.NewWithSink) instead of going through slog.
	LogSink *audit.Sink
	// LogTee, when set, is the writer under LogSink; alerts.syslog forwards
	// the audit events passing through it. Without it syslog cannot start.
	LogTee *syslog.Tee
	// Listener, AdminListener and RedirectListener, when set, are used
	// instead of opening cfg.Server.Listen / cfg.Admin.Listen /
	// cfg.Server.HTTPRedirect (tests and the demo pass ":0" ones). Run owns
	// them: they are closed when it returns, whatever the outcome.
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
	// Blocks is the block table the dashboard's offenders page lists and
	// changes; nil shows "detection not configured".
	Blocks dashboard.Blocks
	// Replica names this replica on the dashboard (default: the host name).
	Replica string
}

// Run serves until ctx is done, then drains in-flight requests for up to
// server.shutdown_timeout. Every resource it opens (shared state, key store,
// lockout counters, gateway, listeners) is closed in one place, whether Run
// fails at start or stops after serving.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	res := &resources{logger: opts.Logger}
	defer res.close()
	s, err := start(ctx, cfg, opts, res)
	if err != nil {
		return err
	}
	return s.serve(ctx)
}

// resources closes what Run opened, in reverse order of opening (the key
// store after the gateway: closing the gateway flushes last-used times).
type resources struct {
	logger  *slog.Logger
	closers []closer
}

type closer struct {
	name  string
	close func() error
}

func (r *resources) add(name string, close func() error) {
	r.closers = append(r.closers, closer{name, close})
}

func (r *resources) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		c := r.closers[i]
		// A listener a server already closed while draining says so: not news.
		if err := c.close(); err != nil && !errors.Is(err, net.ErrClosed) {
			r.logger.Warn("closing "+c.name+" failed", "error", err.Error())
		}
	}
}

// running is a started server: what serve, reload and drain work on.
type running struct {
	cfg     *config.Config
	opts    Options
	logger  *slog.Logger
	metrics *metrics.Metrics
	rl      *backend.Backend
	detect  *detect.Engine // blocks and detectors; outlive reloads
	// detections are the last ones, for the dashboard.
	detections *recentDetections
	keys       *apikey.Standby // nil without api_key authenticators; its Err is the key store's health
	deps       gateway.Deps    // for reloads
	stats      *stats.Stats    // the dashboard's aggregates; outlive reloads
	configs    *dashboard.Configs
	done       chan struct{} // closed when draining starts: ends the dashboard's live streams
	// alerts is where detections go: the audit log always, plus the
	// webhooks and syslog of the alerts: section. Opened at start, it
	// outlives reloads (queues and the syslog connection are kept; a changed
	// section is reported as needing a restart). Hand it to the detectors.
	alerts   alert.Notifier
	current  atomic.Pointer[gateway.Gateway]
	draining atomic.Bool

	ln, adminLn, redirectLn net.Listener
	srv                     *h1.Server
	h2srv                   *h2.Server   // HTTP/2 over TLS; its Shutdown sends GOAWAY
	adminSrv, redirectSrv   *http.Server // nil when not configured
}

// start opens every resource in order, registering each with res as soon as
// it exists, so a failure at any stage closes exactly what came before it.
func start(ctx context.Context, cfg *config.Config, opts Options, res *resources) (*running, error) {
	for _, ln := range []net.Listener{opts.Listener, opts.AdminListener, opts.RedirectListener} {
		if ln != nil {
			res.add("listener "+ln.Addr().String(), ln.Close)
		}
	}
	logger := opts.Logger
	s := &running{cfg: cfg, opts: opts, logger: logger, metrics: metrics.New(), stats: stats.New(),
		configs: dashboard.NewConfigs(cfg, time.Now()), done: make(chan struct{})}
	aud := audit.NewWithSink(logger, opts.LogSink, s.metrics)
	// Refusals reach the dashboard's aggregates after the audit log.
	obs := &stats.Observer{Stats: s.stats, Next: aud}
	var err error
	if s.alerts, err = s.openAlerts(aud, res); err != nil {
		return nil, err
	}
	if s.rl, err = openSharedState(cfg, logger, res); err != nil {
		return nil, err
	}
	s.metrics.SharedState(func() bool { return s.rl.Err() == nil })
	keys, standby, err := openKeys(ctx, cfg, logger, res)
	if err != nil {
		return nil, err
	}
	if s.keys = standby; standby != nil {
		s.metrics.KeyStore(func() (bool, uint64) { st := s.keys.Status(); return st.Up, st.StaleServed })
	}
	lockouts, err := openLockout(cfg, res)
	if err != nil {
		return nil, err
	}
	s.detections = &recentDetections{}
	if s.detect, err = openDetect(cfg, logger, s.metrics, alert.Multi{s.alerts, s.detections}, res); err != nil {
		return nil, err
	}
	tracer, err := openTracing(cfg, logger, res)
	if err != nil {
		return nil, err
	}
	if tracer != nil {
		s.metrics.Tracing(func() (uint64, uint64, uint64) { st := tracer.Stats(); return st.Exported, st.Failed, st.Dropped })
	}
	s.deps = gateway.Deps{Logger: logger, Observer: obs, Access: aud, Metrics: s.metrics, Stats: s.stats, RateLimit: s.rl,
		Keys: keys, KeyStandby: standby, Lockout: lockouts, Tracer: tracer, Detect: s.detect}
	gw, err := gateway.New(cfg, s.deps)
	if err != nil {
		return nil, err
	}
	s.current.Store(gw)
	s.metrics.Authenticators(s.keysReady)
	res.add("gateway", func() error { s.current.Load().Close(); return nil })
	if err := s.listen(res); err != nil {
		return nil, err
	}
	if err := s.redirect(res); err != nil {
		return nil, err
	}
	if err := s.admin(keys, res); err != nil {
		return nil, err
	}
	return s, nil
}

// openAlerts opens the alert destinations. It comes first so that it
// closes last: everything the gateway audits while shutting down still
// reaches syslog.
func (s *running) openAlerts(aud *audit.Logger, res *resources) (*sinks.Sinks, error) {
	deps := sinks.Deps{Logger: s.logger, Audit: aud.Notifier(), Tee: s.opts.LogTee, Counter: s.metrics}
	if s.opts.LogSink != nil {
		deps.Flush = s.opts.LogSink.Flush
	}
	out, err := sinks.Open(s.cfg.Alerts, deps)
	if err != nil {
		return nil, err
	}
	res.add("alerts", func() error { return out.Close(context.Background()) })
	if c := out.Syslog(); c != nil {
		s.metrics.Syslog(func() (bool, uint64, uint64) { st := c.Stats(); return st.Up, st.Sent, st.Dropped })
	}
	return out, nil
}

// openSharedState opens the rate-limit backend. Its state outlives reloads:
// counters must not reset when the config changes.
func openSharedState(cfg *config.Config, logger *slog.Logger, res *resources) (*backend.Backend, error) {
	rl, err := backend.Open(cfg.SharedState, cfg.SharedStateFailure, cfg.SharedStateTimeout, logger)
	if err != nil {
		return nil, fmt.Errorf("shared_state: %w", err)
	}
	res.add("shared_state", rl.Close)
	return rl, nil
}

// openKeys opens the key store when an api_key authenticator needs it (nil
// otherwise), and the Standby that keeps its health and the keys served
// through its outages. Both outlive reloads.
func openKeys(ctx context.Context, cfg *config.Config, logger *slog.Logger, res *resources) (store.Store, *apikey.Standby, error) {
	keys, err := keystore.OpenIfUsed(ctx, cfg, logger)
	if err != nil || keys == nil {
		return nil, nil, err
	}
	res.add("store", keys.Close)
	standby := apikey.NewStandby(keys, apikey.StandbyConfig{Grace: cfg.StoreOutageGrace, Timeout: cfg.StoreTimeout, Logger: logger})
	res.add("store standby", standby.Close)
	return keys, standby, nil
}

// openLockout opens the lockout counters. They live in shared_state too: in
// Redis every replica sees the same failures, so guesses cannot be spread
// over replicas.
func openLockout(cfg *config.Config, res *resources) (lockout.Backend, error) {
	var lockouts lockout.Backend = lockout.NewMemory(lockout.MemoryOptions{})
	if !strings.HasPrefix(cfg.SharedState, "redis://") && !strings.HasPrefix(cfg.SharedState, "rediss://") {
		return lockouts, nil
	}
	lr, err := lockout.OpenRedis(cfg.SharedState, cfg.SharedStateTimeout)
	if err != nil {
		return nil, err
	}
	res.add("lockout", lr.Close)
	if cfg.SharedStateFailure == "local" {
		return lockout.WithFallback(lr, lockouts), nil
	}
	return lr, nil
}

// openTracing starts the trace exporter when tracing: is configured (nil
// otherwise). It outlives reloads; on stop it flushes what is queued,
// within tracing.timeout, after the gateway (and its last spans) closed.
func openTracing(cfg *config.Config, logger *slog.Logger, res *resources) (*tracing.Tracer, error) {
	tracer, err := tracing.New(cfg.Tracing, logger)
	if err != nil || tracer == nil {
		return nil, err
	}
	res.add("tracing", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Tracing.Timeout)
		defer cancel()
		return tracer.Shutdown(ctx)
	})
	return tracer, nil
}

// openDetect opens the block table (shared through Redis when shared_state
// is Redis, so every replica enforces every block) and the detectors. Both
// outlive reloads: windows, baselines and blocks must not reset.
func openDetect(cfg *config.Config, logger *slog.Logger, m *metrics.Metrics, alerts alert.Notifier, res *resources) (*detect.Engine, error) {
	table := detect.NewTable()
	if strings.HasPrefix(cfg.SharedState, "redis") { // redis://, rediss://, redis+cluster://, rediss+cluster://
		var err error
		if table, err = detect.OpenShared(cfg.SharedState, detect.SharedOptions{Timeout: cfg.SharedStateTimeout, Logger: logger}); err != nil {
			return nil, err
		}
	}
	res.add("blocks", table.Close)
	queue := 0
	if cfg.Detect != nil {
		queue = cfg.Detect.QueueSize
	}
	var e *detect.Engine
	detected := m.Detect(metrics.DetectSource{
		Dropped:   func() uint64 { return e.Dropped() },
		Evictions: func() uint64 { return e.Evictions() },
		Active:    table.Active,
		SharedUp:  func() bool { st, _ := table.Status(); return st != "down" },
	})
	e, err := detect.New(cfg.Detect, queue, detect.Deps{Table: table, Notifier: alerts, Detected: detected, Logger: logger})
	if err != nil {
		return nil, err
	}
	res.add("detect", func() error { e.Close(); return nil })
	return e, nil
}

// listenOn returns given, or a new listener on addr that res will close.
// (Given listeners are registered by start.)
func listenOn(given net.Listener, what, addr string, res *resources) (net.Listener, error) {
	if given != nil {
		return given, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, addr, err)
	}
	res.add(what+" "+ln.Addr().String(), ln.Close)
	return ln, nil
}

// listen opens the gateway listener (terminating TLS when configured) and
// builds the servers that will serve it.
func (s *running) listen(res *resources) error {
	cfg := s.cfg.Server
	ln, err := listenOn(s.opts.Listener, "listen", cfg.Listen, res)
	if err != nil {
		return err
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.current.Load().ServeHTTP(w, r) })
	// srv serves HTTP/1.x with Rampart's strict parser; the heads it refuses
	// are answered by the gateway too (HTTP/2 has no such heads).
	s.srv = &h1.Server{
		Handler: handler,
		Reject: func(w http.ResponseWriter, r *http.Request, reason framing.Reason) {
			s.current.Load().ServeRejected(w, r, reason)
		},
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		ResponseTimeout:   cfg.ResponseTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		MaxConns:          maxConnections(cfg.MaxConnections),
		Logger:            s.logger,
		ConnContext:       pipeline.WatchClient,
	}
	s.metrics.Connections(s.srv.Conns, s.srv.Parked, s.srv.Refused, s.srv.Reclaimed)
	// HTTP/2 over TLS: a connection whose writes make no progress for
	// write_timeout is closed, and each stream's writes get the same bound
	// from h2Deadlines (flow control included).
	s.h2srv = &h2.Server{
		Handler:          h2Deadlines(handler, cfg.WriteTimeout, cfg.ResponseTimeout),
		MaxReadFrameSize: 1 << 20,
		MaxHeaderBytes:   cfg.MaxHeaderBytes,
		IdleTimeout:      cfg.IdleTimeout,
		WriteTimeout:     cfg.WriteTimeout,
		Logger:           s.logger,
	}
	s.ln = ln
	if cfg.TLS == nil {
		return nil
	}
	tlsCfg, err := tlsconfig.New(cfg.TLS, s.logger)
	if err != nil {
		return err
	}
	acc := newTLSAcceptor(ln, tlsCfg, cfg.ReadHeaderTimeout, s.h2srv, s.srv, s.logger)
	res.add("tls acceptor", acc.Close) // stops its accept loop
	s.ln = acc
	return nil
}

// redirect opens the plain-HTTP listener that answers 308 to https, when TLS
// is on and one is configured.
func (s *running) redirect(res *resources) error {
	cfg := s.cfg.Server
	if cfg.TLS == nil || (cfg.HTTPRedirect == "" && s.opts.RedirectListener == nil) {
		return nil
	}
	ln, err := listenOn(s.opts.RedirectListener, "http_redirect listen", cfg.HTTPRedirect, res)
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	s.redirectLn = ln
	s.redirectSrv = &http.Server{Handler: redirectHandler(port), ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second,
		MaxHeaderBytes: cfg.MaxHeaderBytes, ErrorLog: s.errorLog()}
	return nil
}

// admin opens the admin listener (metrics, health, the keys API, the
// dashboard), when one is configured.
func (s *running) admin(keys store.Store, res *resources) error {
	if s.cfg.Admin.Listen == "" && s.opts.AdminListener == nil {
		return nil
	}
	ln, err := listenOn(s.opts.AdminListener, "admin listen", s.cfg.Admin.Listen, res)
	if err != nil {
		return err
	}
	ah := admin.New(s.cfg.Admin.Token, s.readiness)
	ah.Handle("GET /metrics", s.metrics.Handler())
	if keys != nil {
		api, err := admin.NewKeysAPI(admin.KeysConfig{Store: keys, Audit: s.logger})
		if err != nil {
			return err
		}
		api.Mount(ah)
	}
	(&admin.BlocksAPI{Table: s.detect.Table(), Audit: s.logger, Replica: s.detect.Replica()}).Mount(ah)
	blocks := s.opts.Blocks
	if blocks == nil {
		blocks = dashboardBlocks{table: s.detect.Table(), replica: s.detect.Replica}
	}
	ah.Mount(dashboard.Prefix, dashboard.New(dashboard.Options{Token: s.cfg.Admin.Token, Stats: s.stats,
		Replica: s.opts.Replica, Blocks: blocks, Detections: s.detections, Config: s.configs.View, Logger: s.logger, Done: s.done}))
	s.adminLn = limitAdmin(ln)
	s.adminSrv = &http.Server{Handler: ah, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10, ErrorLog: s.errorLog()}
	return nil
}

// readiness is the /readyz answer. The replica is unready only while it
// drains (and before it listens: the admin listener opens last): everything
// it needs to serve every route is then absent. A dependency that only some
// routes need — Redis for rate-limited routes, an IdP for its jwt routes, the
// key store for api_key routes — is reported, not a verdict: those routes
// answer 503 by their own failure mode and the others serve, and replicas
// sharing that dependency do not all leave the load balancer at once.
func (s *running) readiness() admin.Readiness {
	rd := admin.Readiness{Ready: !s.draining.Load()}
	if !rd.Ready {
		rd.Reason = "draining"
	}
	state, mode, err := s.rl.Status()
	rd.SharedState = &admin.Dependency{State: state, Mode: mode, Error: errText(err)}
	bstate, berr := s.detect.Table().Status()
	rd.Blocks = &admin.Dependency{State: bstate, Error: errText(berr)}
	if s.keys != nil {
		// A key store outage does not make the replica unready: keys it
		// confirmed recently keep working (store_outage_grace), others get 503.
		rd.KeyStore = &admin.Dependency{State: "up"}
		if err := s.keys.Err(); err != nil {
			rd.KeyStore.State, rd.KeyStore.Error = "down", err.Error()
		}
	}
	for name, st := range s.current.Load().KeyStates() {
		if rd.Authenticators == nil {
			rd.Authenticators = map[string]admin.Dependency{}
		}
		rd.Authenticators[name] = admin.Dependency{State: st.State, Error: errText(st.Err)}
	}
	return rd
}

// keysReady is the rampart_authenticator_ready metric's source.
func (s *running) keysReady() map[string]bool {
	out := map[string]bool{}
	for name, st := range s.current.Load().KeyStates() {
		out[name] = st.State == jwt.StateReady
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (s *running) errorLog() *log.Logger { return log.New(slogWriter{s.logger}, "", 0) }

// serve accepts connections until ctx is done or a server fails, applying
// reloads meanwhile, then drains.
func (s *running) serve(ctx context.Context) error {
	errc := make(chan error, 3)
	go func() { errc <- s.srv.Serve(s.ln) }()
	if s.redirectSrv != nil {
		go func() { errc <- s.redirectSrv.Serve(s.redirectLn) }()
	}
	var adminAddr net.Addr
	if s.adminSrv != nil {
		adminAddr = s.adminLn.Addr()
		go func() { errc <- s.adminSrv.Serve(s.adminLn) }()
	}
	s.logger.Info("rampart serving", "listen", s.ln.Addr().String(), "admin", fmt.Sprint(adminAddr), "routes", s.current.Load().Routes(),
		"max_connections", s.srv.MaxConns)
	if s.opts.Ready != nil {
		s.opts.Ready(s.ln.Addr(), adminAddr)
	}
	// Memory a burst left behind goes back to the OS once it is over.
	defer trim.Start(s.logger)()
	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case serveErr = <-errc:
			break loop
		case <-s.opts.Reload:
			s.reload()
		}
	}
	err := s.drain()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}

// reload compiles the config Load returns off to the side and swaps it in;
// on any error the running config stays.
func (s *running) reload() {
	next, err := s.opts.Load()
	var ngw *gateway.Gateway
	if err == nil {
		deps := s.deps
		deps.Previous = s.current.Load()
		ngw, err = gateway.New(next, deps)
	}
	s.metrics.Reloaded(err)
	s.configs.Reloaded(next, err, time.Now())
	if err != nil {
		s.logger.Error("reload refused; keeping the running config", "error", err.Error())
	} else {
		_ = s.detect.Configure(next.Detect) // validated by the config loader
		if next.Detect != nil && s.cfg.Detect != nil && next.Detect.QueueSize != s.cfg.Detect.QueueSize {
			s.logger.Warn("detect.queue_size changed: restart rampart to apply it; the detectors keep the running queue")
		}
		old := s.current.Swap(ngw)
		// Requests already on the old gateway keep its upstream pools;
		// idle connections are closed now, busy ones when they finish.
		old.Close()
		s.logger.Info("config reloaded", "routes", ngw.Routes())
		if next.Store != s.cfg.Store || next.StoreTimeout != s.cfg.StoreTimeout || next.StoreOutageGrace != s.cfg.StoreOutageGrace {
			s.logger.Warn("store changed: restart rampart to apply it; API keys keep using the running store")
		}
		if !s.rl.Same(next.SharedState, next.SharedStateFailure) || next.SharedStateTimeout != s.cfg.SharedStateTimeout {
			s.logger.Warn("shared_state changed: restart rampart to apply it; rate limits keep using the running backend")
		}
		if !sinks.Same(next.Alerts, s.cfg.Alerts) {
			s.logger.Warn("alerts changed: restart rampart to apply them; alerts keep going to the running destinations")
		}
		if !reflect.DeepEqual(next.Tracing, s.cfg.Tracing) {
			s.logger.Warn("tracing changed: restart rampart to apply it; traces keep using the running exporter")
		}
		if listenerSettings(next) != listenerSettings(s.cfg) {
			s.logger.Warn("listener settings changed (addresses, TLS, limits or timeouts): restart rampart to apply them; routes and policies were reloaded")
		}
	}
	if s.opts.Reloaded != nil {
		s.opts.Reloaded(err)
	}
}

// drain stops accepting and waits up to server.shutdown_timeout for
// in-flight requests; /readyz says "not ready" from the start.
func (s *running) drain() error {
	s.draining.Store(true)
	close(s.done)
	timeout := s.cfg.Server.ShutdownTimeout
	s.logger.Info("shutting down: draining in-flight requests", "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// WebSockets never finish on their own: tell both sides the gateway
	// is going away, so that their relays end within the drain.
	s.current.Load().GoingAway()
	// HTTP/2 connections get their GOAWAY now, not after HTTP/1's drain.
	h2done := make(chan struct{})
	go func() { _ = s.h2srv.Shutdown(ctx); close(h2done) }()
	err := s.srv.Shutdown(ctx)
	<-h2done
	if s.adminSrv != nil {
		_ = s.adminSrv.Shutdown(ctx)
	}
	if s.redirectSrv != nil {
		_ = s.redirectSrv.Shutdown(ctx)
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
