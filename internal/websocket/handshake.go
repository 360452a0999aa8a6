package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/rampart-gw/rampart/internal/cors"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// acceptKey is Sec-WebSocket-Accept for key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Problem types of refused handshakes.
const (
	TypeHandshake = "websocket-bad-handshake"
	TypeRequired  = "websocket-required"
	TypeVersion   = "websocket-version"
	TypeHTTP2     = "websocket-needs-http1"
	TypeOrigin    = "websocket-origin"
	TypeRefused   = "upstream-websocket-refused"
)

// checkHandshake validates the opening handshake of RFC 6455 §4.2.1.
// Besides, a handshake carries no body (its bytes would be taken for
// frames) and asks for no extension it could get (none is negotiated).
func checkHandshake(r *http.Request) *pipeline.Rejection {
	bad := func(detail string) *pipeline.Rejection {
		return pipeline.Reject(http.StatusBadRequest, TypeHandshake, detail)
	}
	switch {
	case r.ProtoMajor != 1:
		// RFC 8441 (WebSockets over HTTP/2) is not supported; internal/h2
		// does not offer it, so browsers use HTTP/1.1 for WebSockets.
		return pipeline.Reject(http.StatusBadRequest, TypeHTTP2,
			"WebSockets are served over HTTP/1.1 only; connect without HTTP/2.")
	case !headerHas(r.Header["Upgrade"], "websocket"):
		rej := pipeline.Reject(http.StatusUpgradeRequired, TypeRequired, "This route only accepts WebSocket connections.")
		rej.Header = http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}
		return rej
	case r.Method != http.MethodGet || r.ProtoMinor != 1:
		return bad("A WebSocket handshake is a GET request over HTTP/1.1.")
	case !headerHas(r.Header["Connection"], "upgrade"):
		return bad("The Connection header must include Upgrade.")
	case r.ContentLength != 0:
		return bad("A WebSocket handshake has no body.")
	}
	if v := r.Header["Sec-Websocket-Version"]; len(v) != 1 || v[0] != "13" {
		rej := pipeline.Reject(http.StatusUpgradeRequired, TypeVersion, "Only WebSocket version 13 is supported.")
		rej.Header = http.Header{"Sec-Websocket-Version": {"13"}}
		return rej
	}
	key := r.Header["Sec-Websocket-Key"]
	if len(key) != 1 || len(key[0]) != 24 {
		return bad("Sec-WebSocket-Key must be one base64-encoded 16-byte value.")
	}
	if k, err := base64.StdEncoding.Strict().DecodeString(key[0]); err != nil || len(k) != 16 {
		return bad("Sec-WebSocket-Key must be one base64-encoded 16-byte value.")
	}
	return nil
}

// checkOrigin refuses cross-site WebSocket hijacking: a page on another
// site opening a WebSocket that the browser authenticates with the user's
// cookies. Browsers always send Origin on WebSocket handshakes (RFC 6455
// §4.1 and the Fetch standard); the same-origin policy does not apply to
// WebSockets, so this check is the only thing that stops such a page.
func (h *Handler) checkOrigin(r *http.Request) *pipeline.Rejection {
	vs := r.Header["Origin"]
	if len(vs) == 0 {
		if h.allowNoOrigin {
			return nil
		}
		return pipeline.Reject(http.StatusForbidden, TypeOrigin,
			"This WebSocket route requires an Origin header (allow_no_origin is off).")
	}
	refused := pipeline.Reject(http.StatusForbidden, TypeOrigin, "This origin may not open WebSockets on this route.")
	o, ok := cors.Canonical(vs[0])
	if len(vs) > 1 || !ok {
		return refused
	}
	if len(h.origins) > 0 {
		if !h.origins[o] {
			return refused
		}
		return nil
	}
	// No list: the page must come from the host it connects to (scheme
	// aside: behind a TLS-terminating balancer the gateway sees http).
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, hostWithoutDefaultPort(r.Host)) {
		return refused
	}
	return nil
}

// hostWithoutDefaultPort drops :80 or :443 from a Host, as Canonical does
// from an Origin.
func hostWithoutDefaultPort(h string) string {
	for _, p := range []string{":80", ":443"} {
		if strings.HasSuffix(h, p) {
			return h[:len(h)-len(p)]
		}
	}
	return h
}

// headerHas reports whether the comma-separated lists vs contain tok
// (ASCII case-insensitive).
func headerHas(vs []string, tok string) bool {
	for _, v := range vs {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), tok) {
				return true
			}
		}
	}
	return false
}

// checkSwitch validates the upstream's answer (RFC 6455 §4.1, the client's
// checks): 101, Upgrade and Connection, the accept value of the key sent,
// no extension (none was offered) and a subprotocol among those offered.
func checkSwitch(status int, h http.Header, key string, offered []string) string {
	switch {
	case status != http.StatusSwitchingProtocols:
		return "the upstream answered " + http.StatusText(status) + " instead of 101"
	case !headerHas(h["Upgrade"], "websocket") || !headerHas(h["Connection"], "upgrade"):
		return "the upstream's 101 lacks Upgrade: websocket or Connection: upgrade"
	case len(h["Sec-Websocket-Accept"]) != 1 || h["Sec-Websocket-Accept"][0] != acceptKey(key):
		return "the upstream's Sec-WebSocket-Accept does not match the key"
	case len(h["Sec-Websocket-Extensions"]) > 0:
		return "the upstream chose an extension that was not offered"
	}
	if p := h["Sec-Websocket-Protocol"]; len(p) > 0 && (len(p) > 1 || !headerHas(offered, p[0])) {
		return "the upstream chose a subprotocol that was not offered"
	}
	return ""
}
