package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/store"
)

// KeysPath is where the key management API lives on the admin listener.
const KeysPath = "/admin/v1/keys"

// maxKeysBody bounds a request body of the key API.
const maxKeysBody = 64 << 10

// KeysConfig configures the key management API.
type KeysConfig struct {
	Store store.Store // required
	// Audit receives one event per change and per refused change: who,
	// what, when — never a secret. nil = slog.Default().
	Audit *slog.Logger
	// Actor names who made a request; nil = "admin-token" (whoever holds
	// the admin token: the admin listener has one credential).
	Actor func(*http.Request) string
	// Now is the clock for statuses, expiries and audit times; nil = time.Now.
	Now func() time.Time
}

// KeysAPI serves /admin/v1/keys: JSON in and out, RFC 9457 problems for
// errors. It does no authentication of its own: mount it on the
// token-protected admin Handler (Mount), never on a public listener.
//
//	GET    /admin/v1/keys[?consumer=NAME]   list (never secrets)
//	POST   /admin/v1/keys                   create; the response holds the key, once
//	GET    /admin/v1/keys/{id}              one key
//	POST   /admin/v1/keys/{id}/rotate       successor; {"grace": "24h"} (default 24h)
//	POST   /admin/v1/keys/{id}/revoke       revoke (DELETE /admin/v1/keys/{id} too)
type KeysAPI struct {
	cfg KeysConfig
	mux *http.ServeMux
}

// NewKeysAPI returns the key management API.
func NewKeysAPI(cfg KeysConfig) (*KeysAPI, error) {
	if cfg.Store == nil {
		return nil, errors.New("admin: the key API needs a key store")
	}
	if cfg.Audit == nil {
		cfg.Audit = slog.Default()
	}
	if cfg.Actor == nil {
		cfg.Actor = func(*http.Request) string { return "admin-token" }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	api := &KeysAPI{cfg: cfg, mux: http.NewServeMux()}
	api.mux.HandleFunc(KeysPath, api.collection)
	api.mux.HandleFunc(KeysPath+"/{id}", api.item)
	api.mux.HandleFunc(KeysPath+"/{id}/rotate", api.rotate)
	api.mux.HandleFunc(KeysPath+"/{id}/revoke", api.revoke)
	return api, nil
}

// Mount registers the API on the admin handler.
func (api *KeysAPI) Mount(h *Handler) {
	h.Handle(KeysPath, api)
	h.Handle(KeysPath+"/", api)
}

func (api *KeysAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := api.mux.Handler(r); pattern == "" {
		problem(w, r, http.StatusNotFound, "not-found", "No such admin endpoint.")
		return
	}
	api.mux.ServeHTTP(w, r)
}

func (api *KeysAPI) collection(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		api.list(w, r)
	case http.MethodPost:
		api.create(w, r)
	default:
		methodNotAllowed(w, r, "GET, HEAD, POST")
	}
}

func (api *KeysAPI) item(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		k, err := api.cfg.Store.Key(r.Context(), r.PathValue("id"))
		if err != nil {
			api.fail(w, r, "", err)
			return
		}
		writeJSON(w, r, http.StatusOK, k.JSON(api.cfg.Now()))
	case http.MethodDelete:
		api.revoke(w, r)
	default:
		methodNotAllowed(w, r, "GET, HEAD, DELETE")
	}
}

func (api *KeysAPI) list(w http.ResponseWriter, r *http.Request) {
	ks, err := api.cfg.Store.ListKeys(r.Context(), store.ListOptions{Consumer: r.URL.Query().Get("consumer")})
	if err != nil {
		api.fail(w, r, "", err)
		return
	}
	now := api.cfg.Now()
	out := struct {
		Keys []store.KeyJSON `json:"keys"`
	}{Keys: make([]store.KeyJSON, len(ks))}
	for i, k := range ks {
		out.Keys[i] = k.JSON(now)
	}
	writeJSON(w, r, http.StatusOK, out)
}

// createdKey is a key with its secret: the one response that carries it.
type createdKey struct {
	store.KeyJSON
	Key string `json:"key"`
}

type createRequest struct {
	Consumer  string            `json:"consumer"`
	Scopes    []string          `json:"scopes"`
	Roles     []string          `json:"roles"`
	Labels    map[string]string `json:"labels"`
	ExpiresIn string            `json:"expires_in"` // "90d", "720h"
	ExpiresAt *time.Time        `json:"expires_at"` // RFC 3339
}

func (api *KeysAPI) create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if !decode(w, r, &req, false) {
		api.refused(r, "create", "", http.StatusBadRequest, "invalid request body")
		return
	}
	spec := store.KeySpec{Consumer: req.Consumer, Scopes: req.Scopes, Roles: req.Roles, Labels: req.Labels}
	switch {
	case req.ExpiresIn != "" && req.ExpiresAt != nil:
		api.fail(w, r, "create", fmt.Errorf("%w: give expires_in or expires_at, not both", store.ErrInvalid))
		return
	case req.ExpiresIn != "":
		d, err := store.ParseDuration(req.ExpiresIn, false)
		if err != nil {
			api.fail(w, r, "create", err)
			return
		}
		spec.ExpiresAt = api.cfg.Now().Add(d)
	case req.ExpiresAt != nil:
		spec.ExpiresAt = *req.ExpiresAt
	}
	k, full, err := api.cfg.Store.CreateKey(r.Context(), spec)
	if err != nil {
		api.fail(w, r, "create", err)
		return
	}
	api.audit(r, "key_created", slog.String("key_id", k.ID), slog.String("consumer", k.Consumer),
		slog.Any("scopes", k.Scopes), slog.Any("roles", k.Roles), optTime("expires_at", k.ExpiresAt))
	w.Header().Set("Location", KeysPath+"/"+k.ID)
	writeJSON(w, r, http.StatusCreated, createdKey{KeyJSON: k.JSON(api.cfg.Now()), Key: full})
}

func (api *KeysAPI) rotate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, "POST")
		return
	}
	id := r.PathValue("id")
	var req struct {
		Grace *string `json:"grace"`
	}
	if !decode(w, r, &req, true) {
		api.refused(r, "rotate", id, http.StatusBadRequest, "invalid request body")
		return
	}
	grace := 24 * time.Hour
	if req.Grace != nil {
		var err error
		if grace, err = store.ParseDuration(*req.Grace, true); err != nil {
			api.fail(w, r, "rotate", err)
			return
		}
	}
	old, next, full, err := api.cfg.Store.RotateKey(r.Context(), id, grace)
	if err != nil {
		api.fail(w, r, "rotate", err)
		return
	}
	api.audit(r, "key_rotated", slog.String("key_id", old.ID), slog.String("consumer", old.Consumer),
		slog.String("new_key_id", next.ID), slog.String("grace", grace.String()), slog.Time("old_key_expires_at", old.ExpiresAt))
	now := api.cfg.Now()
	w.Header().Set("Location", KeysPath+"/"+next.ID)
	writeJSON(w, r, http.StatusCreated, struct {
		createdKey
		Previous store.KeyJSON `json:"previous"`
	}{createdKey{KeyJSON: next.JSON(now), Key: full}, old.JSON(now)})
}

func (api *KeysAPI) revoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodDelete {
		methodNotAllowed(w, r, "POST")
		return
	}
	id := r.PathValue("id")
	if !decode(w, r, &struct{}{}, true) {
		api.refused(r, "revoke", id, http.StatusBadRequest, "invalid request body")
		return
	}
	k, err := api.cfg.Store.RevokeKey(r.Context(), id)
	if err != nil {
		api.fail(w, r, "revoke", err)
		return
	}
	api.audit(r, "key_revoked", slog.String("key_id", k.ID), slog.String("consumer", k.Consumer), slog.Time("revoked_at", k.RevokedAt))
	writeJSON(w, r, http.StatusOK, k.JSON(api.cfg.Now()))
}

// audit writes one change event.
func (api *KeysAPI) audit(r *http.Request, event string, attrs ...slog.Attr) {
	base := []slog.Attr{slog.String("event", event), slog.String("actor", api.cfg.Actor(r)),
		slog.String("remote_addr", host(r.RemoteAddr)), slog.Time("at", api.cfg.Now().UTC())}
	api.cfg.Audit.LogAttrs(r.Context(), slog.LevelInfo, "audit", append(base, attrs...)...)
}

// refused writes one event for a change that was refused.
func (api *KeysAPI) refused(r *http.Request, op, id string, status int, reason string) {
	attrs := []slog.Attr{slog.String("event", "key_change_refused"), slog.String("operation", op),
		slog.String("actor", api.cfg.Actor(r)), slog.String("remote_addr", host(r.RemoteAddr)),
		slog.Time("at", api.cfg.Now().UTC()), slog.Int("status", status), slog.String("reason", reason)}
	if store.ValidID(id) {
		attrs = append(attrs, slog.String("key_id", id))
	}
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	api.cfg.Audit.LogAttrs(r.Context(), level, "audit", attrs...)
}

func host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func optTime(name string, t time.Time) slog.Attr {
	if t.IsZero() {
		return slog.String(name, "never")
	}
	return slog.Time(name, t)
}

// fail answers err as a problem; op != "" marks a refused change, which is
// audited.
func (api *KeysAPI) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	status, typ, detail := http.StatusInternalServerError, "internal-error", "The key store failed."
	switch {
	case errors.Is(err, store.ErrInvalid):
		status, typ, detail = http.StatusBadRequest, "invalid-request", invalidDetail(err)
	case errors.Is(err, store.ErrNotFound):
		status, typ, detail = http.StatusNotFound, "key-not-found", "No key has this id."
	case errors.Is(err, store.ErrRevoked):
		status, typ, detail = http.StatusConflict, "key-revoked", "The key is revoked."
	case errors.Is(err, store.ErrRotated):
		status, typ, detail = http.StatusConflict, "key-already-rotated", "The key was already rotated; rotate its successor."
	}
	reason := typ
	if status >= 500 {
		reason = err.Error() // the operator's own log; the client gets the masked detail
	}
	if op != "" || status >= 500 {
		api.refused(r, op, r.PathValue("id"), status, reason)
	}
	problem(w, r, status, typ, detail)
}

// invalidDetail is the part of a store.ErrInvalid message after the
// sentinel's own text: it describes the administrator's input, never a
// secret.
func invalidDetail(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, store.ErrInvalid.Error()+": "); i >= 0 {
		msg = msg[i+len(store.ErrInvalid.Error())+2:]
	}
	return msg
}

// decode reads a JSON object strictly: application/json, at most 64 KiB,
// no unknown fields, nothing after it. An empty body is accepted when
// optional. It answers the problem itself and returns false on failure.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxKeysBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem(w, r, http.StatusRequestEntityTooLarge, "body-too-large", "The request body is larger than 64 KiB.")
			return false
		}
		problem(w, r, http.StatusBadRequest, "invalid-json", "The request body could not be read.")
		return false
	}
	if len(data) == 0 && optional {
		return true
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		problem(w, r, http.StatusUnsupportedMediaType, "unsupported-media-type", "Send application/json.")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		problem(w, r, http.StatusBadRequest, "invalid-json", jsonDetail(err))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		problem(w, r, http.StatusBadRequest, "invalid-json", "The request body holds more than one JSON value.")
		return false
	}
	return true
}

// jsonDetail explains a decoding error without echoing the body.
func jsonDetail(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("The request body is not valid JSON (at byte %d).", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("Field %q has the wrong type (want %s).", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "Unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") + "."
	}
	return "The request body is not a JSON object of the expected shape."
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	problem(w, r, http.StatusMethodNotAllowed, "method-not-allowed", "Use "+allow+".")
}

func problem(w http.ResponseWriter, r *http.Request, status int, typ, detail string) {
	pipeline.WriteProblem(w, r, pipeline.Reject(status, typ, detail))
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		problem(w, r, http.StatusInternalServerError, "internal-error", "The response could not be encoded.")
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
