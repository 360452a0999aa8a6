package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Block is one active block: requests from Subject (a client address, a
// principal or an API key id) are refused until Until.
type Block struct {
	Subject string    `json:"subject"`
	Until   time.Time `json:"until"`
	Reason  string    `json:"reason"`
	Source  string    `json:"source,omitempty"` // "dashboard", a detector's name, ...
}

// Blocks is the block table the offenders page shows and changes (the
// detect-and-respond table). Implementations bound their own calls in time.
type Blocks interface {
	List(ctx context.Context) ([]Block, error)
	Add(ctx context.Context, subject string, d time.Duration, reason string) error
	Remove(ctx context.Context, subject string) error
}

// Detection is one finding of a detector.
type Detection struct {
	Time     time.Time `json:"time"`
	Detector string    `json:"detector"`
	Subject  string    `json:"subject"`
	Detail   string    `json:"detail"`
}

// Detections lists the latest detections, newest first.
type Detections interface {
	Recent(ctx context.Context, n int) ([]Detection, error)
}

const (
	maxBlock        = 30 * 24 * time.Hour
	maxSubjectBytes = 256
	maxReasonBytes  = 200
)

type blocksAnswer struct {
	Replica    string      `json:"replica"`
	Configured bool        `json:"configured"`
	Blocks     []Block     `json:"blocks"`
	Detections []Detection `json:"detections"`
}

func (h *Handler) blockList(w http.ResponseWriter, r *http.Request, _ *session) {
	ans := blocksAnswer{Replica: h.opts.Replica, Blocks: []Block{}, Detections: []Detection{}}
	if h.opts.Blocks != nil {
		ans.Configured = true
		list, err := h.opts.Blocks.List(r.Context())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		ans.Blocks = append(ans.Blocks, list...)
	}
	if h.opts.Detections != nil {
		list, err := h.opts.Detections.Recent(r.Context(), 50)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		ans.Detections = append(ans.Detections, list...)
	}
	writeJSON(w, ans)
}

// blockRequest is the body of POST /dashboard/api/blocks and /unblock.
type blockRequest struct {
	Subject  string `json:"subject"`
	Duration string `json:"duration"` // Go duration, e.g. "1h"
	Reason   string `json:"reason"`
}

func (h *Handler) readBlock(w http.ResponseWriter, r *http.Request) (blockRequest, bool) {
	var req blockRequest
	if h.opts.Blocks == nil {
		pipeline.WriteProblem(w, r, pipeline.Reject(http.StatusConflict, "detection-not-configured",
			"Blocks need detection (detect:) to be configured."))
		return req, false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Subject == "" || len(req.Subject) > maxSubjectBytes || len(req.Reason) > maxReasonBytes {
		pipeline.WriteProblem(w, r, pipeline.Reject(http.StatusBadRequest, "invalid-block",
			"Send {\"subject\": ..., \"duration\": \"1h\", \"reason\": ...} with a subject of at most 256 bytes."))
		return req, false
	}
	return req, true
}

func (h *Handler) block(w http.ResponseWriter, r *http.Request, s *session) {
	req, ok := h.readBlock(w, r)
	if !ok {
		return
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d <= 0 || d > maxBlock {
		pipeline.WriteProblem(w, r, pipeline.Reject(http.StatusBadRequest, "invalid-block", "duration must be between 1s and 720h."))
		return
	}
	if req.Reason == "" {
		req.Reason = "blocked from the dashboard"
	}
	if err := h.opts.Blocks.Add(r.Context(), req.Subject, d, req.Reason); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r.Context(), "dashboard-block", s, "subject", req.Subject, "duration", d.String(), "reason", req.Reason)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) unblock(w http.ResponseWriter, r *http.Request, s *session) {
	req, ok := h.readBlock(w, r)
	if !ok {
		return
	}
	if err := h.opts.Blocks.Remove(r.Context(), req.Subject); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r.Context(), "dashboard-unblock", s, "subject", req.Subject)
	w.WriteHeader(http.StatusNoContent)
}

// fail answers a collaborator's error with a masked 503; the cause goes to
// the log.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.opts.Logger.Warn("dashboard: block table failed", "error", err.Error())
	pipeline.WriteProblem(w, r, pipeline.Reject(http.StatusServiceUnavailable, "blocks-unavailable",
		"The block table did not answer; try again."))
}
