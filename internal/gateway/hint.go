package gateway

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// The forward_token hint explains a common integration mistake (issue 13).
// By default the gateway removes a verified bearer token before the upstream
// (it sends its verdict in X-Rampart-* instead), and a service that checks
// the token itself — FastAPI's OAuth2PasswordBearer, Django REST framework —
// then answers every request 401. When an upstream answers 401 or 403 with
// WWW-Authenticate to a request whose token the gateway removed, an audit
// event names the authenticator and forward_token. It is logged at most once
// per route per hintEvery, so a misconfigured route cannot flood the log, and
// it carries no token and no header value.

// hintEvery is the least time between two hints for one route.
const hintEvery = time.Minute

// tokenHint is one route's hint state.
type tokenHint struct {
	route  string
	logger *slog.Logger
	drops  map[string]bool // the route's authenticators that remove the token
	last   atomic.Int64    // UnixNano of the last hint; 0 = none yet
}

// tokenHint is the route's hint step, last before the upstream so that it
// sees the upstream's own answer; nil when no authenticator of rt removes
// tokens.
func (b *builder) tokenHint(rt *config.Route) (pipeline.Middleware, error) {
	h := &tokenHint{route: rt.Name, logger: b.g.logger, drops: map[string]bool{}}
	for _, name := range rt.Auth {
		if a := b.authns[name]; a != nil && a.drop != nil {
			h.drops[name] = true
		}
	}
	if len(h.drops) == 0 {
		return nil, nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			// Looked at afterwards, from what the proxy recorded: no
			// per-request wrapper on the hot path.
			info := pipeline.InfoFrom(r.Context())
			if s := info.UpstreamStatus; (s == http.StatusUnauthorized || s == http.StatusForbidden) &&
				info.Principal != nil && h.drops[info.Principal.Authenticator] && len(w.Header()["Www-Authenticate"]) > 0 {
				h.refused(r, s, info.Principal.Authenticator)
			}
		})
	}, nil
}

// due reports whether a hint may be logged at now, and if so claims the slot.
func (h *tokenHint) due(now time.Time) bool {
	last, n := h.last.Load(), now.UnixNano()
	if last != 0 && n-last < int64(hintEvery) {
		return false
	}
	return h.last.CompareAndSwap(last, n)
}

func (h *tokenHint) refused(r *http.Request, status int, authenticator string) {
	if !h.due(time.Now()) {
		return
	}
	h.logger.LogAttrs(r.Context(), slog.LevelWarn, "audit",
		slog.String("event", "forward-token-hint"), slog.String("route", h.route),
		slog.String("authenticator", authenticator), slog.Int("status", status),
		slog.String("request_id", pipeline.InfoFrom(r.Context()).ID),
		slog.String("hint", "upstream refused a request whose token the gateway removed; if the service checks the token itself, set forward_token: true on authenticator "+authenticator))
}
