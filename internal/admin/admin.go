// Package admin serves the admin listener: health endpoints for orchestrators
// and, behind a bearer token, the operator API (metrics and key management are
// added by later issues). The listener binds to loopback by default; the token
// is still required there because "only local processes" includes every other
// process on the host.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Handler is the admin http.Handler.
type Handler struct {
	tokenSum [32]byte
	ready    func() bool
	mux      *http.ServeMux
}

// New returns the admin handler. ready reports whether the gateway accepts
// traffic (false while starting or draining).
func New(token string, ready func() bool) *Handler {
	h := &Handler{tokenSum: sha256.Sum256([]byte(token)), ready: ready, mux: http.NewServeMux()}
	return h
}

// Handle registers a token-protected endpoint.
func (h *Handler) Handle(pattern string, handler http.Handler) { h.mux.Handle(pattern, handler) }

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
		if !h.ready() {
			writeText(w, r, http.StatusServiceUnavailable, "not ready\n")
			return
		}
		writeText(w, r, http.StatusOK, "ready\n")
		return
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

func writeText(w http.ResponseWriter, r *http.Request, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}
