// Package admin serves the admin listener: health endpoints for orchestrators
// and, behind a bearer token, the operator API (metrics and key management are
// added by later issues). The listener binds to loopback by default; the token
// is still required there because "only local processes" includes every other
// process on the host.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Handler is the admin http.Handler.
type Handler struct {
	tokenSum  [32]byte
	readiness func() Readiness
	mux       *http.ServeMux
	// own are handlers under a path prefix that authenticate callers
	// themselves (the dashboard: its login page is open, the rest takes a
	// session or the token).
	own []ownHandler
}

type ownHandler struct {
	prefix  string
	handler http.Handler
}

// Readiness is the /readyz answer. Ready alone decides the status (200 or
// 503); the dependencies are reported so operators see a partial outage, but
// one that only some routes feel does not take the replica out of the load
// balancer: those routes answer 503 themselves (a shared outage would
// otherwise take every replica out at once, healthy routes included).
type Readiness struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"` // why not ready, e.g. "draining"
	// SharedState is the rate-limit and lockout backend.
	SharedState *Dependency `json:"shared_state,omitempty"`
	// KeyStore is the API-key store; nil when no api_key authenticator is used.
	KeyStore *Dependency `json:"key_store,omitempty"`
	// Blocks is how blocks are shared: "memory", or the shared state's
	// "up" or "down" (local blocks are enforced meanwhile).
	Blocks *Dependency `json:"blocks,omitempty"`
	// Authenticators are those that fetch keys (jwt with jwks_url or
	// discovery), by name.
	Authenticators map[string]Dependency `json:"authenticators,omitempty"`
}

// Dependency is one dependency's state. Error is shown only to callers with
// the admin token: /readyz itself is unauthenticated, and error text names
// internal hosts.
type Dependency struct {
	State string `json:"state"`          // e.g. up, down, ready, waiting, invalid
	Mode  string `json:"mode,omitempty"` // shared_state_failure, for the shared state
	Error string `json:"error,omitempty"`
}

// New returns the admin handler. readiness reports whether the gateway
// accepts traffic (not while draining) and the state of its dependencies.
func New(token string, readiness func() Readiness) *Handler {
	return &Handler{tokenSum: sha256.Sum256([]byte(token)), readiness: readiness, mux: http.NewServeMux()}
}

// Handle registers a token-protected endpoint.
func (h *Handler) Handle(pattern string, handler http.Handler) { h.mux.Handle(pattern, handler) }

// Mount hands every path under prefix (ending in "/") to handler, which
// must authenticate its callers itself.
func (h *Handler) Mount(prefix string, handler http.Handler) {
	h.own = append(h.own, ownHandler{prefix, handler})
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch r.URL.Path {
	case "/healthz":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			pipeline.WriteProblem(w, r, pipeline.Reject(http.StatusMethodNotAllowed, "method-not-allowed", "Use GET."))
			return
		}
		writeText(w, r, http.StatusOK, "ok\n")
		return
	case "/readyz":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			pipeline.WriteProblem(w, r, pipeline.Reject(http.StatusMethodNotAllowed, "method-not-allowed", "Use GET."))
			return
		}
		h.serveReadiness(w, r)
		return
	}
	for _, o := range h.own {
		if strings.HasPrefix(r.URL.Path, o.prefix) {
			o.handler.ServeHTTP(w, r)
			return
		}
	}
	if !h.authorized(r) {
		rej := pipeline.Reject(http.StatusUnauthorized, "admin-unauthorized", "The admin API requires Authorization: Bearer <admin token>.")
		rej.Header = http.Header{"Www-Authenticate": {`Bearer realm="rampart-admin"`}}
		pipeline.WriteProblem(w, r, rej)
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		pipeline.WriteProblem(w, r, pipeline.Reject(http.StatusNotFound, "not-found", "No such admin endpoint."))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized compares SHA-256 digests in constant time, so neither the token's
// content nor its length leaks through timing.
func (h *Handler) authorized(r *http.Request) bool {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return false
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], h.tokenSum[:]) == 1
}

func (h *Handler) serveReadiness(w http.ResponseWriter, r *http.Request) {
	rd := h.readiness()
	if !h.authorized(r) {
		if rd.SharedState != nil {
			rd.SharedState.Error = ""
		}
		if rd.KeyStore != nil {
			rd.KeyStore.Error = ""
		}
		if rd.Blocks != nil {
			rd.Blocks.Error = ""
		}
		for name, d := range rd.Authenticators {
			d.Error = ""
			rd.Authenticators[name] = d
		}
	}
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	body, _ := json.Marshal(rd) // strings, bools and maps of them: cannot fail
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}

func writeText(w http.ResponseWriter, r *http.Request, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}
