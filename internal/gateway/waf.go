package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/waf"
)

// wafPolicy is a compiled waf: policy and what it was compiled from, so a
// reload that does not change it reuses it (compiling the CRS costs a few
// hundred milliseconds of CPU and several MB).
type wafPolicy struct {
	key    string
	policy *waf.Policy
}

// wafPolicies compiles the waf: policies, each once, shared by the routes
// that name them; unchanged ones are taken from the previous gateway.
func (b *builder) wafPolicies() {
	b.g.wafs = map[string]*wafPolicy{}
	for _, name := range sortedNames(b.cfg.WAF) {
		c := *b.cfg.WAF[name]
		c.BaseDir = filepath.Dir(b.cfg.File)
		c.MaxBodyBytes = int64(b.cfg.Server.MaxBodyBytes)
		key := wafKey(c)
		if prev := b.deps.Previous; prev != nil && prev.wafs[name] != nil && prev.wafs[name].key == key {
			b.g.wafs[name] = prev.wafs[name]
			continue
		}
		start := time.Now()
		p, err := waf.New(c)
		if err != nil {
			for _, e := range splitErrors(err) { // each at its own key
				b.fail(fmt.Errorf("waf %q: %w", name, e), "waf", name)
			}
			continue
		}
		b.deps.Logger.Debug("waf policy compiled", "waf", name, "ms", time.Since(start).Milliseconds())
		b.g.wafs[name] = &wafPolicy{key: key, policy: p}
	}
}

// splitErrors undoes errors.Join.
func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// wafKey identifies what a policy compiles from: its settings and the
// content of its rules file.
func wafKey(c waf.Config) string {
	h := sha256.New()
	fmt.Fprintf(h, "%#v", c)
	if c.RulesFile != "" {
		path := c.RulesFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(c.BaseDir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "" // New reports it; never equal to a compiled one's key
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TypeRequestBlocked is the problem type of a request the WAF refused.
const TypeRequestBlocked = "request-blocked"

// waf is the route's WAF step. It runs after the OpenAPI step, on the body
// the body step buffered: Coraza reads it from the buffer (its own
// transaction copy, bounded by max_body_bytes) and the upstream gets the
// buffer itself. In block mode a request whose anomaly score reaches the
// threshold gets 403 request-blocked and never reaches the upstream; the
// audit event names the matched rules, the score and the variables, never
// the payload. Anything matched but not refused is logged as a
// waf_detected audit event (detect mode, or a score under the threshold).
func (b *builder) waf(rt *config.Route) (pipeline.Middleware, error) {
	if rt.WAF == "" {
		return nil, nil
	}
	wp := b.g.wafs[rt.WAF]
	if wp == nil {
		return nil, errReported
	}
	p, g := wp.policy, b.g
	mode := p.Config().Mode
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := pipeline.InfoFrom(r.Context())
			req := waf.Request{HTTP: r}
			if info != nil {
				req.ID, req.Client = info.ID, info.Client
			}
			if r.GetBody != nil && r.ContentLength != 0 {
				// Coraza copies the body into its transaction: that copy
				// counts against the body memory budget like the buffer.
				if n := r.ContentLength; n > 0 {
					if err := g.bodies.Reserve(n); err != nil {
						pipeline.Refuse(w, r, "waf", g.obs, noRoom(err))
						return
					}
					defer g.bodies.Release(n)
				}
				body, err := r.GetBody()
				if err != nil {
					pipeline.Refuse(w, r, "waf", g.obs, err)
					return
				}
				defer body.Close()
				req.Body = body
			}
			res, x, err := p.Begin(req)
			defer x.Close()
			if err != nil {
				pipeline.Refuse(w, r, "waf", g.obs, err) // fail closed: 500
				return
			}
			decision := wafDecision(res, p.Detect())
			if g.metrics != nil {
				var rules []int
				if res != nil {
					rules = res.Rules
				}
				g.metrics.WAF(p.Config().Name, mode, "request", decision, rules)
			}
			switch decision {
			case "pass":
			case "block":
				rej := pipeline.Reject(http.StatusForbidden, TypeRequestBlocked, "The request was refused by the gateway's security rules.")
				rej.Err = res
				pipeline.Refuse(w, r, "waf", g.obs, rej)
				return
			default:
				g.wafEvent(r, res, mode)
			}
			if !x.Inspects() {
				next.ServeHTTP(w, r)
				return
			}
			// A compressed answer could not be read: ask for identity (the
			// client still gets a correct answer).
			r.Header.Del("Accept-Encoding")
			ww := &wafWriter{ResponseWriter: w, x: x, g: g, r: r, p: p, before: slices.Collect(maps.Keys(w.Header()))}
			defer func() { x.Close(); ww.releaseHeld() }() // Coraza's copy is gone first
			next.ServeHTTP(ww, r)
			ww.finish()
		})
	}, nil
}

// wafDecision is what happens to a request: pass (nothing matched), match
// (rules matched under the threshold), block, or detect (would have been
// blocked, detect mode).
func wafDecision(res *waf.Result, detect bool) string {
	switch {
	case res == nil:
		return "pass"
	case !res.Blocked:
		return "match"
	case detect:
		return "detect"
	}
	return "block"
}

// side is request or response: which half of the exchange res is about.
func side(res *waf.Result) string {
	if res.Response {
		return "response"
	}
	return "request"
}

// wafEvent writes the waf_detected audit event of a request that matched
// rules and was let through.
func (g *Gateway) wafEvent(r *http.Request, res *waf.Result, mode string) {
	attrs := []slog.Attr{slog.String("event", "waf_detected"), slog.String("waf", res.Policy), slog.String("mode", mode),
		slog.String("side", side(res)), slog.Bool("would_block", res.Blocked), slog.Int("score", res.Score), slog.Any("rules", res.Rules),
		slog.Any("variables", res.Variables)}
	if res.Excerpt != "" {
		attrs = append(attrs, slog.String("excerpt", res.Excerpt))
	}
	if info := pipeline.InfoFrom(r.Context()); info != nil {
		attrs = append(attrs, slog.String("request_id", info.ID), slog.String("route", info.Route), slog.String("client_ip", info.ClientIP))
	}
	level := slog.LevelInfo
	if res.Blocked {
		level = slog.LevelWarn
	}
	g.logger.LogAttrs(r.Context(), level, "audit", attrs...)
}
