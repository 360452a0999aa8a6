package gateway

import (
	"log/slog"
	"net/http"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/owner"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// responseOwner is the route's response_owner step. It sits outside the
// contract step, so the upstream's response reaches it after the OpenAPI
// filter: it checks (and passes on) the body the client will get, a
// contract 502 passes it as the error it is, and a request refused by any
// earlier step never gets this far.
func (b *builder) responseOwner(rt *config.Route) (pipeline.Middleware, error) {
	if rt.ResponseOwner == nil {
		return nil, nil
	}
	return owner.New(*rt.ResponseOwner, owner.Deps{Observer: b.g.obs, Removed: b.g.ownerRemoved, Bodies: b.g.bodies})
}

// ownerRemoved audits the list elements response_owner removed: the route,
// the caller, the field's name and how many — never a value.
func (g *Gateway) ownerRemoved(r *http.Request, field string, removed int) {
	attrs := []slog.Attr{slog.String("event", "response-owner-removed"), slog.String("field", field), slog.Int("removed", removed)}
	if info := pipeline.InfoFrom(r.Context()); info != nil {
		attrs = append(attrs, slog.String("request_id", info.ID), slog.String("route", info.Route))
		if info.Principal != nil {
			attrs = append(attrs, slog.String("subject", info.Principal.Subject))
		}
	}
	g.logger.LogAttrs(r.Context(), slog.LevelWarn, "audit", attrs...)
	if g.metrics != nil {
		g.metrics.Rejected("response-owner-removed")
	}
}
