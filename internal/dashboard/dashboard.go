// Package dashboard serves the live security dashboard on the admin
// listener: four pages (overview, security events, offenders, config), the
// JSON and server-sent-events API they read, and the login in front of them.
//
// It is an admin surface, so it is shut by default: before login only the
// login page and the static assets are served. Logging in takes the admin
// token (failures count toward a lockout per client) and yields a
// server-side session: a random 256-bit id in an HttpOnly, SameSite=Strict
// cookie (Secure when the listener is TLS), with an absolute expiry, in a
// store with a cap. Every state change (block, unblock, logout) needs the
// session's CSRF token and a same-origin Origin header. The API also takes
// the admin token as a Bearer credential, so that it can be scraped; a
// bearer caller sends no cookie, so needs no CSRF token.
//
// Every answer carries a strict CSP (no inline script or style), frame
// denial, no referrer and no caching. The pages and their scripts are
// embedded (assets/, built by `make dashboard-assets`): nothing is fetched
// from elsewhere.
//
// The numbers are one replica's (its stats.Stats); every page and API
// answer names the replica.
package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/lockout"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/stats"
)

// Prefix is where the dashboard lives on the admin listener.
const Prefix = "/dashboard/"

// Options are the dashboard's collaborators.
type Options struct {
	// Token is the admin token, the login's password.
	Token string
	// Stats are the aggregates shown; required.
	Stats *stats.Stats
	// Replica names this replica on every page (default: the host name).
	Replica string
	// TLS marks the admin listener as TLS: the session cookie is then Secure.
	TLS bool
	// Blocks lists, adds and removes active blocks; nil shows "detection
	// not configured" and refuses block and unblock.
	Blocks Blocks
	// Detections lists recent detections; nil shows none.
	Detections Detections
	// Config returns the running config's view (see Configs); nil: none.
	Config func() ConfigView
	// Logger receives the audit lines of logins, logouts, blocks and
	// unblocks. nil means slog.Default().
	Logger *slog.Logger
	// Done ends the live streams (the server's shutdown); nil: never.
	Done <-chan struct{}
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSessions bounds the sessions held (0 = 32; the oldest goes first);
	// SessionTTL is a session's absolute lifetime (0 = 8h).
	MaxSessions int
	SessionTTL  time.Duration
	// MaxStreams bounds the live streams open at once (0 = 16).
	MaxStreams int
	// StreamEvery is the live stream's update period (0 = 1s; at most 2s).
	StreamEvery time.Duration
	// Lockout counts failed logins per client (nil: a memory backend).
	Lockout lockout.Backend
}

// Handler serves everything under Prefix.
type Handler struct {
	opts     Options
	tokenSum [32]byte
	sessions *sessions
	lockout  lockout.Backend
	policy   lockout.Policy
	streams  atomic.Int32
	mux      *http.ServeMux
}

// csp is the Content-Security-Policy of every answer: scripts, styles,
// connections only from the dashboard itself, no inline code, no framing.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// New returns the dashboard handler.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Replica == "" {
		opts.Replica = hostname()
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = 16
	}
	if opts.StreamEvery <= 0 || opts.StreamEvery > 2*time.Second {
		opts.StreamEvery = time.Second
	}
	if opts.Lockout == nil {
		opts.Lockout = lockout.NewMemory(lockout.MemoryOptions{MaxKeys: 10000})
	}
	h := &Handler{opts: opts, tokenSum: sha256.Sum256([]byte(opts.Token)),
		sessions: newSessions(opts.MaxSessions, opts.SessionTTL),
		lockout:  opts.Lockout,
		// Five wrong tokens a minute lock the client out for five minutes.
		policy: lockout.Policy{MaxFailures: 5, Window: time.Minute, Duration: 5 * time.Minute},
		mux:    http.NewServeMux()}
	h.routes()
	return h
}

func (h *Handler) routes() {
	m := h.mux
	// Open before login.
	m.HandleFunc("GET /dashboard/{$}", h.root)
	m.HandleFunc("GET /dashboard/login", h.loginPage)
	m.HandleFunc("POST /dashboard/login", h.login)
	m.Handle("GET /dashboard/assets/", assetHandler())
	// Pages: a session, or the login page.
	for _, p := range pages {
		m.Handle("GET /dashboard/"+p.Name, h.page(p))
	}
	m.Handle("POST /dashboard/logout", h.withSession(h.logout, true))
	// API: a session or the admin token.
	m.Handle("GET /dashboard/api/summary", h.api(h.summary))
	m.Handle("GET /dashboard/api/series", h.api(h.series))
	m.Handle("GET /dashboard/api/routes", h.api(h.routeTable))
	m.Handle("GET /dashboard/api/events", h.api(h.events))
	m.Handle("GET /dashboard/api/offenders", h.api(h.offenders))
	m.Handle("GET /dashboard/api/blocks", h.api(h.blockList))
	m.Handle("POST /dashboard/api/blocks", h.api(h.block))
	m.Handle("POST /dashboard/api/unblock", h.api(h.unblock))
	m.Handle("GET /dashboard/api/config", h.api(h.config))
	m.Handle("GET /dashboard/api/stream", h.api(h.stream))
}

// ServeHTTP serves the dashboard with its security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	if _, pattern := h.mux.Handler(r); pattern == "" {
		pipeline.WriteProblem(w, r, pipeline.Reject(http.StatusNotFound, "not-found", "No such dashboard page."))
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) root(w http.ResponseWriter, r *http.Request) {
	if h.sessions.get(r, h.opts.Now()) == nil {
		http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, Prefix+"overview", http.StatusSeeOther)
}

// bearer reports whether r carries the admin token as a Bearer credential.
// SHA-256 digests are compared in constant time, so neither the token's
// content nor its length leaks through timing.
func (h *Handler) bearer(r *http.Request) bool {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return false
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	return ok && strings.EqualFold(scheme, "Bearer") && h.tokenMatches(tok)
}

func (h *Handler) tokenMatches(tok string) bool {
	if tok == "" {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], h.tokenSum[:]) == 1
}

// api wraps an API endpoint: the admin token (scrapers) or a session; a
// session's state changes also need its CSRF token and the same origin.
func (h *Handler) api(next func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.bearer(r) {
			next(w, r, nil)
			return
		}
		s := h.sessions.get(r, h.opts.Now())
		if s == nil {
			rej := pipeline.Reject(http.StatusUnauthorized, "admin-unauthorized",
				"Log in to the dashboard, or send Authorization: Bearer <admin token>.")
			rej.Header = http.Header{"Www-Authenticate": {`Bearer realm="rampart-admin"`}}
			pipeline.WriteProblem(w, r, rej)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !h.csrfOK(r, s, r.Header.Get("X-CSRF-Token")) {
			pipeline.WriteProblem(w, r, pipeline.Reject(http.StatusForbidden, "csrf-refused",
				"A state change needs the session's CSRF token and a same-origin request."))
			return
		}
		next(w, r, s)
	})
}

// withSession wraps a form handler (logout): a session, its CSRF token in
// the form when post is set.
func (h *Handler) withSession(next func(http.ResponseWriter, *http.Request, *session), post bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := h.sessions.get(r, h.opts.Now())
		if s == nil {
			http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
			return
		}
		if post {
			r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
			if !h.csrfOK(r, s, r.PostFormValue("csrf")) {
				pipeline.WriteProblem(w, r, pipeline.Reject(http.StatusForbidden, "csrf-refused",
					"A state change needs the session's CSRF token and a same-origin request."))
				return
			}
		}
		next(w, r, s)
	})
}

// sameOrigin reports whether r comes from a page of this listener. Origin
// decides when it names an origin; under Referrer-Policy: no-referrer
// browsers send "Origin: null" for same-origin posts, and then the
// browser's own Sec-Fetch-Site (which no page can set) must say
// same-origin. A request with neither is refused: the dashboard's pages
// always send them.
func sameOrigin(r *http.Request, tls bool) bool {
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	switch origin := r.Header.Get("Origin"); origin {
	case "", "null":
		return r.Header.Get("Sec-Fetch-Site") == "same-origin"
	default:
		return origin == scheme+r.Host
	}
}

func (h *Handler) csrfOK(r *http.Request, s *session, token string) bool {
	return sameOrigin(r, h.opts.TLS) && token != "" &&
		subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}
