package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// cookieName is the session cookie.
const cookieName = "rampart_dashboard"

// session is one login. Its id exists only in the cookie: the store keys
// sessions by the id's SHA-256, so a dump of the store holds no usable id.
type session struct {
	key     [32]byte // sha256 of the id
	csrf    string   // the synchronizer token of every state change
	created time.Time
	expires time.Time
}

// ref names the session in audit lines without revealing its id.
func (s *session) ref() string {
	if s == nil {
		return "admin-token"
	}
	return "session:" + hex.EncodeToString(s.key[:4])
}

type sessions struct {
	mu   sync.Mutex
	m    map[[32]byte]*session
	max  int
	ttl  time.Duration
	rand func([]byte) // crypto/rand.Read
}

func newSessions(max int, ttl time.Duration) *sessions {
	if max <= 0 {
		max = 32
	}
	if ttl <= 0 {
		ttl = 8 * time.Hour
	}
	return &sessions{m: map[[32]byte]*session{}, max: max, ttl: ttl, rand: func(b []byte) { _, _ = rand.Read(b) }}
}

// create starts a session and returns its id (256 random bits). When the
// store is full, the oldest session ends.
func (ss *sessions) create(now time.Time) (string, *session) {
	var id, csrf [32]byte
	ss.rand(id[:])
	ss.rand(csrf[:])
	idText := base64.RawURLEncoding.EncodeToString(id[:])
	s := &session{key: sha256.Sum256([]byte(idText)), csrf: base64.RawURLEncoding.EncodeToString(csrf[:]),
		created: now, expires: now.Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, old := range ss.m {
		if !now.Before(old.expires) {
			delete(ss.m, k)
		}
	}
	for len(ss.m) >= ss.max {
		var oldest *session
		for _, old := range ss.m {
			if oldest == nil || old.created.Before(oldest.created) {
				oldest = old
			}
		}
		delete(ss.m, oldest.key)
	}
	ss.m[s.key] = s
	return idText, s
}

// get returns r's live session, or nil.
func (ss *sessions) get(r *http.Request, now time.Time) *session {
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) != 43 { // 32 bytes, base64url without padding
		return nil
	}
	key := sha256.Sum256([]byte(c.Value))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[key]
	if s == nil {
		return nil
	}
	if !now.Before(s.expires) {
		delete(ss.m, key)
		return nil
	}
	return s
}

// alive reports whether s is still in the store (not logged out, expired
// or evicted).
func (ss *sessions) alive(s *session, now time.Time) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.m[s.key] == s && now.Before(s.expires)
}

func (ss *sessions) end(s *session) {
	ss.mu.Lock()
	delete(ss.m, s.key)
	ss.mu.Unlock()
}

// clientKey is the lockout key of r's client: the admin listener has no
// trusted proxies, so the peer is the client.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "dashboard-login:" + host
}

// login checks the posted admin token. Failures count toward the client's
// lockout; a locked-out client is refused before its token is looked at.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	now := h.opts.Now()
	ctx := r.Context()
	key := clientKey(r)
	if !sameOrigin(r, h.opts.TLS) {
		h.loginFailed(w, r, http.StatusForbidden, "This login form must be posted from the dashboard itself.")
		return
	}
	if until, err := h.lockout.Locked(ctx, key, now); err != nil || !until.IsZero() {
		h.audit(ctx, "dashboard-login-locked", nil, "client", r.RemoteAddr)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(until.Sub(now).Seconds()))))
		h.loginFailed(w, r, http.StatusTooManyRequests, "Too many failed logins from this address; try again later.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if !h.tokenMatches(r.PostFormValue("token")) {
		_, _ = h.lockout.Fail(ctx, key, now, h.policy)
		h.audit(ctx, "dashboard-login-failed", nil, "client", r.RemoteAddr)
		h.loginFailed(w, r, http.StatusUnauthorized, "That is not the admin token.")
		return
	}
	id, s := h.sessions.create(now)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, Secure: h.opts.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: int(h.sessions.ttl.Seconds())})
	h.audit(ctx, "dashboard-login", s, "client", r.RemoteAddr)
	http.Redirect(w, r, Prefix+"overview", http.StatusSeeOther)
}

func (h *Handler) loginFailed(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, loginPage, pageData{Error: msg})
}

// logout ends the session on the server, not only in the browser.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s *session) {
	h.sessions.end(s)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: h.opts.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	h.audit(r.Context(), "dashboard-logout", s)
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// audit writes one audit line of a dashboard action.
func (h *Handler) audit(ctx context.Context, event string, s *session, attrs ...any) {
	args := append([]any{"event", event, "by", s.ref()}, attrs...)
	if info := pipeline.InfoFrom(ctx); info != nil {
		args = append(args, "request_id", info.ID)
	}
	h.opts.Logger.WarnContext(ctx, "audit", args...)
}

func hostname() string {
	name, err := os.Hostname()
	if err != nil || name == "" {
		return "unknown"
	}
	return name
}
