package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// documents loads and compiles the OpenAPI documents the config names. On a
// reload, a document whose URL cannot be fetched keeps its previous version
// (logged), so an upstream being down does not take the contract away.
func documents(cfg *config.Config, prev map[string]*openapi.Document, logger *slog.Logger, offline bool) (map[string]*openapi.Document, []error) {
	out := map[string]*openapi.Document{}
	var errs []error
	client := &http.Client{Timeout: 30 * time.Second}
	for name, o := range cfg.OpenAPI {
		oc := openapi.Config{Name: name, Spec: o.Spec, BaseDir: filepath.Dir(cfg.File),
			ValidateRequests: o.ValidateRequests, FilterResponses: o.FilterResponses, RejectUndocumented: o.RejectUndocumented,
			UnknownFields: o.UnknownFields, MaxDepth: o.MaxDepth, MaxResponseBytes: o.MaxResponseBytes, BasePath: o.BasePath,
			PassUndocumentedErrors: o.PassUndocumentedErrors, RoutesFromSpec: o.RoutesFromSpec, Upstream: o.Upstream,
			Auth: o.Auth, SecuritySchemes: o.SecuritySchemes, AllowPublic: o.AllowPublic, Offline: offline}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		doc, err := openapi.Reload(ctx, oc, client, prev[name])
		cancel()
		if errors.Is(err, openapi.ErrOffline) {
			continue // no document: the gateway lists it in Unfetched
		}
		if doc != nil && err != nil {
			logger.Warn("openapi document could not be refreshed; keeping the previous version", "openapi", name, "error", err.Error())
			err = nil
		}
		if err != nil {
			errs = append(errs, positioned(cfg, o.SpecPos, err.Error()))
			continue
		}
		out[name] = doc
	}
	return out, errs
}

// specRoutes turns routes_from_spec documents into routes, checked like the
// ones written by hand (their upstream and authenticators must exist).
func specRoutes(cfg *config.Config, docs map[string]*openapi.Document) ([]*config.Route, []error) {
	var routes []*config.Route
	var errs []error
	for name, o := range cfg.OpenAPI {
		doc := docs[name]
		if !o.RoutesFromSpec || doc == nil {
			continue
		}
		if cfg.Upstreams[o.Upstream] == nil {
			errs = append(errs, positioned(cfg, o.UpstreamPos, fmt.Sprintf("openapi %q: upstream %q is not defined", name, o.Upstream)))
			continue
		}
		specs, err := doc.Routes()
		if err != nil {
			errs = append(errs, positioned(cfg, o.Pos, err.Error()))
			continue
		}
		for _, rs := range specs {
			rt := &config.Route{Name: rs.Name, Path: rs.Path, Methods: rs.Methods, Upstream: rs.Upstream, Auth: rs.Auth,
				OpenAPI: name, Pos: o.Pos, PathPos: o.Pos}
			rt.Require.Scopes = rs.Scopes
			for _, a := range rs.Auth {
				if a != config.AuthNone && cfg.Authenticators[a] == nil {
					errs = append(errs, positioned(cfg, o.Pos, fmt.Sprintf("openapi %q: operation %s maps to authenticator %q, which is not defined", name, rs.Operation, a)))
				}
			}
			routes = append(routes, rt)
		}
	}
	return routes, errs
}

// onResponse records what response filtering did: the route, the operation
// and the names of undeclared fields — never their values — so teams can fix
// the service.
func (g *Gateway) onResponse(r *http.Request, ev openapi.ResponseEvent) {
	attrs := []slog.Attr{slog.String("event", "response-"+string(ev.Action)), slog.String("openapi", ev.Document),
		slog.String("operation", ev.Operation), slog.Int("status", ev.Status), slog.Any("fields", ev.Fields)}
	if info := pipeline.InfoFrom(r.Context()); info != nil {
		attrs = append(attrs, slog.String("request_id", info.ID), slog.String("route", info.Route))
	}
	if ev.Reason != "" {
		attrs = append(attrs, slog.String("reason", ev.Reason))
	}
	g.logger.LogAttrs(r.Context(), slog.LevelWarn, "audit", attrs...)
	if g.metrics != nil {
		g.metrics.Rejected("response-" + string(ev.Action))
	}
}
