package admin

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/detect"
)

// BlocksPath is where the blocks API lives on the admin listener.
const BlocksPath = "/admin/v1/blocks"

// maxBlockFor bounds an operator's block.
const maxBlockFor = 365 * 24 * time.Hour

// BlocksAPI serves /admin/v1/blocks: the blocks every replica enforces
// (detectors' and operators'). Each change is audited (who, what, until).
//
//	GET    /admin/v1/blocks                list
//	POST   /admin/v1/blocks                {"subject": "203.0.113.7" | "198.51.100.0/24" | "principal:AUTH:SUBJECT",
//	                                        "duration": "1h", "reason": "..."}
//	DELETE /admin/v1/blocks/{subject}      lift (the subject URL-escaped: / as %2F)
type BlocksAPI struct {
	Table *detect.Table
	// Audit receives one event per change; nil = slog.Default().
	Audit *slog.Logger
	// Replica names this gateway in the blocks it adds.
	Replica string
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// Mount registers the API on the admin handler.
func (api *BlocksAPI) Mount(h *Handler) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+BlocksPath, api.list)
	mux.HandleFunc("POST "+BlocksPath, api.add)
	mux.HandleFunc("DELETE "+BlocksPath+"/{subject...}", api.remove)
	h.Handle(BlocksPath, mux)
	h.Handle(BlocksPath+"/", mux)
}

func (api *BlocksAPI) now() time.Time {
	if api.Now != nil {
		return api.Now()
	}
	return time.Now()
}

func (api *BlocksAPI) audit(r *http.Request, event string, attrs ...slog.Attr) {
	logger := api.Audit
	if logger == nil {
		logger = slog.Default()
	}
	base := []slog.Attr{slog.String("event", event), slog.String("actor", "admin-token"),
		slog.String("remote_addr", host(r.RemoteAddr)), slog.Time("at", api.now().UTC())}
	logger.LogAttrs(r.Context(), slog.LevelWarn, "audit", append(base, attrs...)...)
}

type blocksList struct {
	Blocks []blockJSON `json:"blocks"`
}

type blockJSON struct {
	ID string `json:"id"`
	detect.Block
	ExpiresIn int64 `json:"expires_in_seconds"`
}

func (api *BlocksAPI) list(w http.ResponseWriter, r *http.Request) {
	now := api.now()
	out := blocksList{Blocks: []blockJSON{}}
	for _, b := range api.Table.List() {
		out.Blocks = append(out.Blocks, blockJSON{ID: b.ID(), Block: b, ExpiresIn: int64(b.Expires.Sub(now).Round(time.Second) / time.Second)})
	}
	writeJSON(w, r, http.StatusOK, out)
}

type addRequest struct {
	Subject  string `json:"subject"`
	Duration string `json:"duration"`
	Reason   string `json:"reason"`
}

func (api *BlocksAPI) add(w http.ResponseWriter, r *http.Request) {
	var req addRequest
	if !decode(w, r, &req, false) {
		return
	}
	kind, subject, err := detect.ParseSubject(req.Subject)
	if err != nil {
		problem(w, r, http.StatusBadRequest, "invalid-block", "subject: "+err.Error()+".")
		return
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d < time.Second || d > maxBlockFor {
		problem(w, r, http.StatusBadRequest, "invalid-block", "duration must be a Go duration between 1s and 8760h, such as 30m.")
		return
	}
	if len(req.Reason) > 200 || strings.ContainsAny(req.Reason, "\r\n") {
		problem(w, r, http.StatusBadRequest, "invalid-block", "reason must be one line of at most 200 bytes.")
		return
	}
	now := api.now()
	b := detect.Block{Kind: kind, Subject: subject, Detector: detect.Operator, Reason: req.Reason, Created: now,
		Expires: now.Add(d), Source: "operator@" + api.Replica}
	if err := api.Table.Add(b); err != nil {
		problem(w, r, http.StatusBadRequest, "invalid-block", err.Error())
		return
	}
	api.audit(r, "block_added", slog.String("block", b.ID()), slog.String("kind", kind), slog.String("reason", b.Reason),
		slog.Time("expires", b.Expires.UTC()))
	w.Header().Set("Location", BlocksPath+"/"+url.PathEscape(b.ID()))
	writeJSON(w, r, http.StatusCreated, blockJSON{ID: b.ID(), Block: b, ExpiresIn: int64(d / time.Second)})
}

func (api *BlocksAPI) remove(w http.ResponseWriter, r *http.Request) {
	found, err := api.Table.Remove(r.PathValue("subject"))
	var notFound bool
	switch {
	case err != nil:
		problem(w, r, http.StatusBadRequest, "invalid-block", "subject: "+err.Error()+".")
		return
	case !found:
		notFound = true
	}
	id := r.PathValue("subject")
	if kind, subject, err := detect.ParseSubject(id); err == nil {
		id = detect.Block{Kind: kind, Subject: subject}.ID()
	}
	api.audit(r, "block_removed", slog.String("block", id), slog.Bool("was_active_here", !notFound))
	if notFound {
		problem(w, r, http.StatusNotFound, "block-not-found", "No block on this subject (it may have expired).")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
