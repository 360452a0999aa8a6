// Package websocket upgrades a route's requests to WebSockets (RFC 6455)
// and relays their frames to the upstream, within budgets.
//
// A Handler is the last step of a `websocket:` route, so the upgrade happens
// only after the route's whole policy (authentication, authorization, rate
// limits) accepted the handshake. The Handler then refuses, with
// problem+json and before the upstream is contacted: a handshake that breaks
// RFC 6455 §4.2.1 (400; 426 without Upgrade: websocket or with a version
// other than 13), a request over HTTP/2 (400: RFC 8441 is not supported, and
// since internal/h2 does not offer it browsers use HTTP/1.1 for WebSockets),
// and an Origin that is not allowed (403: cross-site WebSocket hijacking).
// It sends the handshake on a dedicated upstream connection and checks the
// answer as a client must (101, Sec-WebSocket-Accept; else 502). No
// extension is negotiated (Sec-WebSocket-Extensions is dropped), so the
// bytes counted are the bytes the upstream gets.
//
// The relay parses every frame header and forwards frames as they come,
// never buffering a message: its memory is two 4 KiB readers and two 8 KiB
// copy buffers per connection. It ends the connection with a close frame:
// 1002 for a protocol violation (unmasked client frame, masked upstream
// frame, RSV bits, reserved opcodes, bad fragmentation or control frames),
// 1009 for a client message longer than max_message_bytes, 1008 for a client
// over max_messages_per_second, 1001 after idle_timeout without a byte either
// way and when the gateway shuts down or reloads (GoingAway). The other side
// gets 1001. Both goroutines of a relay end when either side goes.
package websocket

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/cors"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/proxy"
)

// Config is a route's websocket: block. `websocket: true` is this block
// with its defaults.
type Config struct {
	// Origins are the exact origins (scheme://host[:port]) whose pages may
	// open the WebSocket. Empty: only pages of the host the handshake is
	// sent to (the Origin's host and port equal the Host header).
	Origins []string `yaml:"origins" conf:"unique=fold"`
	// AllowNoOrigin accepts handshakes without an Origin header. Browsers
	// always send one, so only other clients (scripts, services) lack it;
	// they still pass the route's authentication. Off: refused with 403.
	AllowNoOrigin bool `yaml:"allow_no_origin"`
	// MaxMessageBytes bounds a client message, all its fragments together
	// (close 1009 beyond); between 125 bytes and 64MiB.
	MaxMessageBytes conf.Size `yaml:"max_message_bytes" default:"1MiB" conf:"min=125,max=64MiB"`
	// MaxMessagesPerSecond bounds the messages (control frames included) a
	// client sends per second on one connection, with bursts of as many
	// (close 1008 beyond); between 1 and 100000.
	MaxMessagesPerSecond int `yaml:"max_messages_per_second" default:"100" conf:"min=1,max=100000"`
	// IdleTimeout closes the connection (1001) after this long without a
	// byte in either direction, and bounds each write to a side.
	IdleTimeout time.Duration `yaml:"idle_timeout" default:"60s" conf:"positive"`
}

// Validate refuses origins that are not exact: "*", "null" and wildcards
// would let any page, or many, act with the user's cookies.
func (c *Config) Validate() []error {
	var errs []error
	for i, o := range c.Origins {
		if _, err := cors.ExactOrigin(o); err != nil {
			errs = append(errs, &conf.FieldError{Field: "origins", Index: i, Entry: "origin", Got: true,
				Msg: `must be an exact origin (scheme://host[:port]); "*", "null" and wildcards are refused on WebSocket routes`})
		}
	}
	return errs
}

// Deps are a Handler's collaborators.
type Deps struct {
	// Observer is told about refused handshakes (may be nil).
	Observer pipeline.Observer
	// Open, when set, is called with 1 when a relay starts and -1 when it
	// ends (the open WebSockets gauge).
	Open func(delta int)
	// CloseWait bounds the closing handshake after the gateway sent its
	// close frames (shutdown, reload, limits). 0 means 5s.
	CloseWait time.Duration
}

// Handler upgrades and relays one route's WebSockets to up.
type Handler struct {
	up            *proxy.Upstream
	obs           pipeline.Observer
	open          func(int)
	origins       map[string]bool
	allowNoOrigin bool
	maxMessage    int64
	rate          float64
	idle          time.Duration
	closeWait     time.Duration

	mu     sync.Mutex
	relays map[*relay]struct{}
	gone   bool // GoingAway was called: no new relay starts
}

// New builds a route's Handler.
func New(cfg Config, up *proxy.Upstream, deps Deps) (*Handler, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.MaxMessageBytes <= 0 || cfg.MaxMessagesPerSecond <= 0 || cfg.IdleTimeout <= 0 {
		return nil, errors.New("websocket: max_message_bytes, max_messages_per_second and idle_timeout must be positive")
	}
	h := &Handler{up: up, obs: deps.Observer, open: deps.Open, allowNoOrigin: cfg.AllowNoOrigin,
		maxMessage: int64(cfg.MaxMessageBytes), rate: float64(cfg.MaxMessagesPerSecond), idle: cfg.IdleTimeout,
		closeWait: deps.CloseWait, relays: map[*relay]struct{}{}}
	if h.closeWait <= 0 {
		h.closeWait = 5 * time.Second
	}
	if len(cfg.Origins) > 0 {
		h.origins = map[string]bool{}
		for _, o := range cfg.Origins {
			canon, _ := cors.ExactOrigin(o)
			h.origins[canon] = true
		}
	}
	return h, nil
}

// GoingAway closes every WebSocket of this handler with 1001 to both sides
// (the gateway shuts down, or a reload replaced this route: clients
// reconnect under the new policy) and refuses new ones with 503. It does
// not wait for them.
func (h *Handler) GoingAway() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gone = true
	for rl := range h.relays {
		if rl.peers[0] == nil {
			continue // not relaying yet: run sees gone
		}
		rl.stop(closeGoingAway, closeGoingAway, "gateway going away")
	}
}

func (h *Handler) add(rl *relay) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone {
		return false
	}
	h.relays[rl] = struct{}{}
	return true
}

func (h *Handler) remove(rl *relay) {
	h.mu.Lock()
	delete(h.relays, rl)
	h.mu.Unlock()
}

// ServeHTTP checks the handshake and the origin, opens the upstream's
// WebSocket, then hijacks the client connection and relays until either side
// closes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := func(rej *pipeline.Rejection) { pipeline.Refuse(w, r, "websocket", h.obs, rej) }
	if rej := checkHandshake(r); rej != nil {
		refuse(rej)
		return
	}
	if rej := h.checkOrigin(r); rej != nil {
		refuse(rej)
		return
	}
	key, offered := r.Header["Sec-Websocket-Key"][0], r.Header["Sec-Websocket-Protocol"]
	delete(r.Header, "Sec-Websocket-Extensions")
	rl := &relay{h: h}
	if !h.add(rl) {
		rej := pipeline.Reject(http.StatusServiceUnavailable, "shutting-down", "The gateway is shutting down; connect again.")
		rej.Header = http.Header{"Retry-After": {"1"}}
		refuse(rej)
		return
	}
	defer h.remove(rl)
	sw, err := h.up.Upgrade(r.Context(), r, "websocket")
	if err != nil {
		rej := &pipeline.Rejection{Status: http.StatusBadGateway, Type: "upstream-unavailable",
			Detail: "The upstream service could not be reached.", Err: err}
		switch {
		case errors.Is(err, proxy.ErrBadRequestHeader):
			rej.Status, rej.Type, rej.Detail = http.StatusBadRequest, "bad-header", "The request cannot be forwarded: a header or the target is invalid."
		case r.Context().Err() != nil:
			w.WriteHeader(499) // the client went away
			return
		case proxy.IsTimeout(err):
			rej.Status, rej.Type, rej.Detail = http.StatusGatewayTimeout, "upstream-timeout", "The upstream service did not answer in time."
		}
		refuse(rej)
		return
	}
	if why := checkSwitch(sw.Status, sw.Header, key, offered); why != "" {
		_ = sw.Conn.Close()
		refuse(&pipeline.Rejection{Status: http.StatusBadGateway, Type: TypeRefused,
			Detail: "The upstream service did not accept the WebSocket.", Err: errors.New(why)})
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = sw.Conn.Close()
		refuse(&pipeline.Rejection{Status: http.StatusInternalServerError, Type: "internal-error",
			Detail: "The connection cannot be upgraded.", Err: err})
		return
	}
	info := pipeline.InfoFrom(r.Context())
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n"
	if p := sw.Header["Sec-Websocket-Protocol"]; len(p) == 1 {
		head += "Sec-WebSocket-Protocol: " + p[0] + "\r\n" // one of the client's own offers (checkSwitch)
	}
	if info != nil {
		head += "X-Request-Id: " + info.ID + "\r\n"
	}
	_ = conn.SetWriteDeadline(time.Now().Add(h.idle))
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		_ = conn.Close()
		_ = sw.Conn.Close()
		return
	}
	if h.open != nil {
		h.open(1)
		defer h.open(-1)
	}
	sum := rl.run(&peer{name: "client", conn: conn, r: brw.Reader, client: true},
		&peer{name: "upstream", conn: sw.Conn, r: sw.Reader})
	if info != nil {
		info.WebSocket = sum
	}
}
