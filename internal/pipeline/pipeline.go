// Package pipeline is the joint between Rampart's request steps: the Middleware
// shape, the Rejection every refusing step returns, the per-request Info carried
// in the context, and the one writer of RFC 9457 problem+json bodies.
//
// A step that refuses a request returns a *Rejection; Guard turns it into a
// problem+json response, reports it to the Observer and does not call the next
// handler, so a rejected request never reaches the upstream.
package pipeline

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/rampart-gw/rampart/internal/peek"
	"github.com/rampart-gw/rampart/internal/route"
)

// Middleware is the one shape every step has.
type Middleware func(next http.Handler) http.Handler

// Chain applies ms so that ms[0] runs first.
func Chain(h http.Handler, ms ...Middleware) http.Handler {
	for i := len(ms) - 1; i >= 0; i-- {
		h = ms[i](h)
	}
	return h
}

// Rejection is a refusal. Status, Type and Detail reach the client; Err reaches
// only the logs. Header holds extra response headers (Allow, Retry-After).
type Rejection struct {
	Status int
	Type   string // stable kebab-case reason, e.g. "route-not-found"
	Detail string // safe, short, never echoes secrets or internals
	Header http.Header
	// Fields, when set, become the problem's "errors" member (RFC 9457 §3,
	// its example): one entry per invalid field, located by JSON pointer,
	// with a reason that never echoes the client's value.
	Fields []FieldError
	Err    error
	// Close asks the server to close the connection after the response
	// (framing errors, unread oversized bodies).
	Close bool
}

func (r *Rejection) Error() string {
	if r.Err != nil {
		return r.Type + ": " + r.Err.Error()
	}
	return r.Type + ": " + r.Detail
}

// Reject builds a Rejection.
func Reject(status int, typ, detail string) *Rejection {
	return &Rejection{Status: status, Type: typ, Detail: detail}
}

// FieldError is one invalid part of a request.
type FieldError struct {
	Pointer string // JSON pointer into the request ("/price", "#/query/limit")
	Detail  string // why, without the value
}

// Observer is told about every rejection (audit log, metrics).
type Observer interface {
	Rejected(r *http.Request, step string, rej *Rejection)
}

// Info is the per-request state the steps share. One is allocated per request
// and carried in the context under a private key.
type Info struct {
	ID       string // request id, propagated or generated
	ClientIP string // real client per trusted proxies
	// Client is ClientIP as an address (unmapped; invalid when the peer's
	// address could not be parsed), for IP lists and blocks without parsing.
	Client netip.Addr
	Peer   string    // immediate peer IP
	Start  time.Time // when the gateway received the request
	Route  string    // matched route name, "" before routing
	// RouteIndex is the gateway's own index of the matched route plus one
	// (0 before routing), so per-route state is found without a lookup.
	// (int32, beside UpstreamAborted: the gateway's per-request state
	// stays in its allocation size class.)
	RouteIndex int32
	// UpstreamAborted is set when the upstream's body broke after the
	// response head was forwarded: the client's connection was cut (no last
	// chunk, or fewer bytes than Content-Length). The access line keeps the
	// status that was sent and says upstream_aborted.
	UpstreamAborted bool
	Path            string       // canonical path that was routed (and is forwarded)
	Params          route.Params // path parameters of the matched route (values are escaped)
	Principal       *Principal   // nil for anonymous requests
	Scheme          string       // "http" or "https", as seen by the gateway
	// Target is the upstream target the request was sent to ("" if none),
	// and UpstreamTime how long the upstream took to send response headers.
	Target       string
	UpstreamTime time.Duration
	// UpstreamStatus is the status the upstream answered with (0 if none),
	// before any masking.
	UpstreamStatus int
	// WebSocket is set once a WebSocket upgrade succeeded: the access line,
	// written when the relay ends, reports it.
	WebSocket *WebSocket
	// ForwardedFor is the X-Forwarded-For value to send upstream: the hops we
	// believe (trusted proxies only) followed by the immediate peer.
	ForwardedFor string
	// Refusal is the problem type of the first refusal answered (set by
	// Refuse), "" when none: what a trace reports as the decision.
	Refusal string
	// LoginUser is the username a login: route's request body names,
	// bounded and sanitised ("" elsewhere), for credential-stuffing
	// detection. Never a password.
	LoginUser string
}

// WebSocket sums up a relayed WebSocket connection.
type WebSocket struct {
	FromClient, FromUpstream int64  // frame bytes read from each side
	CloseCode                int    // of the first close frame (1005: none in it; 1006: none at all)
	ClosedBy                 string // "client", "upstream" or "gateway"
}

// Principal is the authenticated caller, as every authenticator reports it.
// It is read-only once returned: authenticators hand out the principal they
// cached for a credential (a cache hit allocates nothing), so one value may
// be shared by many concurrent requests.
type Principal struct {
	Subject       string
	Authenticator string // name of the authenticator that accepted the credential
	Scopes        []string
	Roles         []string
	Claims        map[string]any
	AMR           []string // authentication methods (RFC 8176), for step-up MFA
}

type infoKey struct{}

// WithInfo returns a request carrying info. Under internal/h1, whose
// request contexts can take one value in place, that is r itself (no
// context and no request copy per request); it must then be called before
// r's context is shared, as the gateway does first thing.
func WithInfo(r *http.Request, info *Info) *http.Request {
	if s, ok := r.Context().(valueSetter); ok && s.SetValue(infoKey{}, info) {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
}

// valueSetter is a context that can take a value in place (internal/h1's).
type valueSetter interface{ SetValue(key, val any) bool }

// InfoFrom returns the request's Info, or nil.
func InfoFrom(ctx context.Context) *Info {
	info, _ := ctx.Value(infoKey{}).(*Info)
	return info
}

// Guard adapts a check into a Middleware. With a nil error the (possibly
// replaced) request goes on; a *Rejection is written as problem+json and
// reported to obs; any other error becomes a masked 500.
func Guard(step string, obs Observer, check func(*http.Request) (*http.Request, error)) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r2, err := check(r)
			if err != nil {
				Refuse(w, r, step, obs, err)
				return
			}
			next.ServeHTTP(w, r2)
		})
	}
}

// Refuse writes err as a problem response and reports it. Errors that are not
// a *Rejection become a masked 500 (the cause goes to the observer only).
func Refuse(w http.ResponseWriter, r *http.Request, step string, obs Observer, err error) {
	var rej *Rejection
	if !errors.As(err, &rej) {
		rej = &Rejection{Status: http.StatusInternalServerError, Type: "internal-error",
			Detail: "The gateway failed to process the request.", Err: err}
	}
	if info := InfoFrom(r.Context()); info != nil && info.Refusal == "" {
		info.Refusal = rej.Type
	}
	if obs != nil {
		obs.Rejected(r, step, rej)
	}
	WriteProblem(w, r, rej)
}

type clientGoneKey struct{}

// WithClientGone returns a context carrying gone, a check that reports
// whether the client has closed its connection. A server that has no
// background read (internal/h1) puts one in each connection's context, so
// that a step waiting long for an upstream can notice the client left.
// Such a server cancels a request's context only once its handler has
// returned: a step may rely on that and poll gone instead of watching the
// context (see ServerPolls).
func WithClientGone(ctx context.Context, gone func() bool) context.Context {
	return context.WithValue(ctx, clientGoneKey{}, gone)
}

// WatchClient is an HTTP/1 server's ConnContext (internal/h1 has no
// background read that would cancel the request context): it gives each
// connection's context a ClientGone check that peeks at the client's socket
// (under TLS too) without consuming bytes, so a step that waits long for an
// upstream gives up on a client that left (499), as nginx does.
func WatchClient(ctx context.Context, c net.Conn) context.Context {
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	p := peek.New(raw)
	return WithClientGone(ctx, func() bool { return p.Check() == peek.Closed })
}

// ServerPolls reports whether ctx comes from a server that installed a
// ClientGone check, and so does not cancel the request's context while its
// handler runs. A step that waits on an upstream then need not register a
// callback on the context (context.AfterFunc costs five allocations and two
// locks per request) and poll ClientGone instead. A cancellation a step
// derived itself (none does) is then seen at the next poll, not at once.
func ServerPolls(ctx context.Context) bool { return ClientGone(ctx) != nil }

// ClientGone returns the context's client check, or nil when the server
// cancels the context itself on disconnect (net/http, HTTP/2) or cannot tell.
func ClientGone(ctx context.Context) func() bool {
	gone, _ := ctx.Value(clientGoneKey{}).(func() bool)
	return gone
}
