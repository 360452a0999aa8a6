// Package hygiene holds the request checks and header scrubbing that every
// route gets before routing: things a bare httputil.ReverseProxy lets through.
//
//   - The request target must be origin-form ("/path?query"). Absolute-form is
//     only for proxies (RFC 9112 §3.2.2) and is refused unless it names a host
//     the config routes; asterisk-form and authority-form (CONNECT) are refused:
//     Rampart is never a forward proxy.
//   - A fragment ("#") never belongs in a request target; its presence means a
//     client or an intermediary disagrees with us about where the path ends.
//   - Headers that claim to describe the client or the original request
//     (X-Forwarded-*, Forwarded, X-Real-IP, X-Original-URL, True-Client-IP...)
//     are removed: the gateway rebuilds the ones it vouches for. Client-sent
//     X-Rampart-* headers are removed so an upstream can trust ours. Method
//     override headers are removed: the method that was authorized is the
//     method that is forwarded. Header names with underscores are removed
//     (see Scrub). W3C trace context (traceparent, tracestate) is kept only
//     from trusted proxies.
package hygiene

import (
	"net/http"
	"strings"
)

// Target splits a raw request-target into path and query. ok is false with a
// reason code when the target is not an acceptable origin-form target.
// hostAllowed is asked about the authority of an absolute-form target.
func Target(rawTarget string, hostAllowed func(string) bool) (path, query, reason string) {
	if strings.IndexByte(rawTarget, '#') >= 0 {
		return "", "", "fragment"
	}
	if rawTarget == "*" {
		return "", "", "asterisk-form"
	}
	if !strings.HasPrefix(rawTarget, "/") {
		rest, ok := cutScheme(rawTarget)
		if !ok {
			return "", "", "not-origin-form"
		}
		slash := strings.IndexByte(rest, '/')
		authority := rest
		if slash >= 0 {
			authority = rest[:slash]
		}
		if strings.ContainsAny(authority, "@?") || hostAllowed == nil || !hostAllowed(authority) {
			return "", "", "absolute-form"
		}
		if slash < 0 {
			rawTarget = "/"
		} else {
			rawTarget = rest[slash:]
		}
	}
	path, query, _ = strings.Cut(rawTarget, "?")
	return path, query, ""
}

func cutScheme(s string) (string, bool) {
	for _, p := range [...]string{"http://", "https://"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return s[len(p):], true
		}
	}
	return "", false
}

// spoofable lists request headers a client must not be able to set: they
// describe the client, the original URL or the method to an upstream that
// trusts its gateway. Canonical forms, for direct map deletes.
var spoofable = []string{
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server", "X-Forwarded-Ssl",
	"X-Forwarded-Scheme", "X-Forwarded-Uri", "X-Forwarded-Path", "X-Forwarded-Client-Cert",
	"X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "Fastly-Client-Ip",
	"X-Cluster-Client-Ip", "X-Originating-Ip", "X-Remote-Ip", "X-Remote-Addr", "X-Proxyuser-Ip",
	"X-Original-Url", "X-Rewrite-Url", "X-Original-Uri", "X-Original-Host", "X-Host", "X-Http-Host-Override",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	"X-Request-Id", // the gateway sets its own (propagating a trusted proxy's)
	"Upgrade", "Http2-Settings", "Proxy-Connection", "Proxy-Authorization",
}

// spoofableSet is spoofable as a set: Scrub looks each of the request's
// (few) header names up once instead of deleting every listed name.
var spoofableSet = func() map[string]struct{} {
	m := make(map[string]struct{}, len(spoofable))
	for _, k := range spoofable {
		m[k] = struct{}{}
	}
	return m
}()

// Scrub removes spoofable headers and every X-Rampart-* header. It returns the
// client's X-Request-Id (before removal) so that a trusted proxy's id can be kept.
//
// The W3C Trace Context headers (traceparent, tracestate) are kept only when
// trustedPeer (the peer is a trusted proxy): from anyone else they would let a
// client pick the trace ids an upstream's spans join, and force its sampling.
// With tracing on, the forwarder replaces them with its own; with tracing
// off, a trusted proxy's go upstream unchanged.
func Scrub(h http.Header, trustedPeer bool) (requestID string) {
	for k, v := range h {
		_, spoof := spoofableSet[k]
		if !trustedPeer && (k == "Traceparent" || k == "Tracestate") {
			spoof = true
		}
		if spoof && k == "Upgrade" && len(v) == 1 && strings.EqualFold(v[0], "websocket") {
			// Kept for websocket: routes; every other route's forwarder
			// drops it (hop-by-hop), so it never reaches an upstream there.
			spoof = false
		}
		// Underscored names are dropped like nginx does by default: WSGI/CGI
		// servers (Flask, Django) map both "X-User" and "X_User" to HTTP_X_USER,
		// so "X_Rampart_Subject" would otherwise impersonate our header.
		if spoof || strings.IndexByte(k, '_') >= 0 || len(k) > 10 && strings.EqualFold(k[:10], "x-rampart-") {
			if k == "X-Request-Id" && len(v) == 1 {
				requestID = v[0]
			}
			delete(h, k)
		}
	}
	return requestID
}

// ValidRequestID reports whether a propagated id is safe to log and forward.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
