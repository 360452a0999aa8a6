package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/detect"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/spool"
)

// detector sets the engine: the one in deps, which outlives reloads, or,
// for a config with detect:, one of this gateway's own.
func (b *builder) detector() {
	b.g.detect, b.g.feed = b.deps.Detect, b.cfg.Detect != nil
	if b.g.detect != nil || !b.g.feed {
		return
	}
	e, err := detect.New(b.cfg.Detect, b.cfg.Detect.QueueSize, detect.Deps{Logger: b.deps.Logger})
	if err != nil {
		b.fail(err, "detect")
		return
	}
	b.g.closers = append(b.g.closers, e.Close)
	b.g.detect = e
}

// refuseBlocked refuses a request whose client is blocked (by a detector
// or an operator), before routing: every path is refused alike.
func (g *Gateway) refuseBlocked(w http.ResponseWriter, r *http.Request, info *pipeline.Info) bool {
	if g.detect == nil {
		return false
	}
	now := info.Start // a block's end is in seconds: the request's start is now enough
	b, ok := g.detect.BlockedClient(info.Client, now)
	if !ok {
		return false
	}
	rej := pipeline.Reject(http.StatusForbidden, detect.TypeClientBlocked, "This client is blocked.")
	if g.detect.BlockStatus() == http.StatusTooManyRequests {
		rej.Status, rej.Type, rej.Detail = http.StatusTooManyRequests, detect.TypeClientSuspended, "This client is suspended; retry later."
	}
	blockedAnswer(rej, b, now)
	pipeline.Refuse(w, r, "blocks", g.obs, rej)
	return true
}

// blockedAnswer completes a block's refusal: Retry-After, the remaining
// whole seconds, and the cause for the audit log (never the client).
func blockedAnswer(rej *pipeline.Rejection, b *detect.Block, now time.Time) {
	rej.Header = http.Header{"Retry-After": {strconv.FormatInt(int64((b.Expires.Sub(now)+time.Second-1)/time.Second), 10)}}
	rej.Err = blockedErr{b.Detector}
}

type blockedErr struct{ detector string }

func (e blockedErr) Error() string { return "blocked by " + e.detector }

// principalBlock refuses, right after authentication, a principal that
// is blocked (token sharing, or an operator's block).
func (b *builder) principalBlock(rt *config.Route) (pipeline.Middleware, error) {
	if public(rt) || b.g.detect == nil {
		return nil, nil
	}
	e, obs := b.g.detect, b.g.obs
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := pipeline.InfoFrom(r.Context())
			if p := info.Principal; p != nil {
				now := info.Start
				if blk, ok := e.Table().Principal(p.Authenticator, p.Subject, now); ok {
					rej := pipeline.Reject(e.BlockStatus(), detect.TypePrincipalBlocked, "These credentials are blocked.")
					blockedAnswer(rej, blk, now)
					pipeline.Refuse(w, r, "blocks", obs, rej)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// loginUser reads the username of a login route's request body (buffered
// in memory by the body step) for the credential-stuffing detector.
func (b *builder) loginUser(rt *config.Route) (pipeline.Middleware, error) {
	if rt.Login == nil || !b.g.feed {
		return nil, nil
	}
	field := rt.Login.UsernameField
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sr, ok := r.Body.(*spool.Reader); ok {
				if data, inMemory := sr.Buffer().Bytes(); inMemory {
					pipeline.InfoFrom(r.Context()).LoginUser = detect.LoginUsername(data, r.Header.Get("Content-Type"), field)
				}
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// feedDetectors hands the finished request to the detectors.
func (g *Gateway) feedDetectors(info *pipeline.Info, status int) {
	ev := detect.Event{Time: info.Start.UnixNano(), Client: info.Client, Path: info.Path, Refusal: info.Refusal,
		Status: status, UpstreamStatus: info.UpstreamStatus, Route: int(info.RouteIndex), Username: info.LoginUser}
	if p := info.Principal; p != nil {
		ev.Authenticator, ev.Principal = p.Authenticator, p.Subject
	}
	if i := info.RouteIndex; i > 0 {
		ev.Login = g.routes[i-1].login
	}
	g.detect.Feed(&ev)
}
