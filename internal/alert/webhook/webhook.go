// Package webhook delivers alerts as signed JSON POSTs: one bounded queue
// and one delivery goroutine per webhook, retries with exponential backoff
// and jitter, and a Close that drains within a deadline. Notify never waits
// on the network: a full queue drops the new alert and counts it.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/alert"
)

// Header names of a delivery.
const (
	SignatureHeader = "X-Rampart-Signature"
	DeliveryHeader  = "X-Rampart-Delivery"
)

// Retry timing; variables so tests can shorten them.
var (
	baseBackoff   = 500 * time.Millisecond
	maxBackoff    = 30 * time.Second
	maxRetryAfter = time.Minute
)

// Payload is the JSON body of a delivery. Field names are stable (documented
// in docs/alerts.md).
type Payload struct {
	Event       string           `json:"event"` // always "alert"
	Time        string           `json:"time"`  // RFC 3339, UTC
	Detector    string           `json:"detector"`
	SubjectKind string           `json:"subject_kind"`
	Subject     string           `json:"subject"`
	Action      string           `json:"action"`
	BlockFor    int64            `json:"block_seconds,omitempty"`
	Evidence    map[string]int64 `json:"evidence"`
	Summary     string           `json:"summary"`
	Replica     string           `json:"replica,omitempty"`
	// Text repeats Summary under the name Slack's incoming webhooks read.
	Text string `json:"text"`
}

// NewPayload is the payload of a.
func NewPayload(a alert.Alert) Payload {
	ev := a.Evidence
	if ev == nil {
		ev = map[string]int64{}
	}
	p := Payload{Event: "alert", Time: a.Time.UTC().Format(time.RFC3339Nano), Detector: a.Detector,
		SubjectKind: a.SubjectKind, Subject: a.Subject, Action: a.Action, Evidence: ev,
		Summary: a.Summary, Replica: a.Replica, Text: a.Summary}
	if a.Action == "block" {
		p.BlockFor = int64((a.BlockFor + time.Second - 1) / time.Second)
	}
	return p
}

// Counter receives delivery outcomes (metrics.Metrics implements it).
type Counter interface {
	AlertDelivery(sink, result string) // result: delivered, failed
	AlertDropped(sink string)
}

// Stats are a Sender's counts since it started.
type Stats struct {
	Delivered, Failed, Dropped, Attempts int64
}

// Sender delivers to one webhook.
type Sender struct {
	cfg     Config
	sink    string // metrics label: webhook:NAME
	target  string // scheme://host, for logs
	client  *http.Client
	logger  *slog.Logger
	counter Counter
	queue   chan []byte

	mu     sync.Mutex // guards closed against sends on a closed queue
	closed bool
	ctx    context.Context // cancelled when Close's deadline passes
	cancel context.CancelFunc
	done   chan struct{}

	delivered, failed, dropped, attempts atomic.Int64
}

var _ alert.Notifier = (*Sender)(nil)

// New validates cfg and starts the delivery goroutine. counter and logger
// may be nil.
func New(cfg Config, logger *slog.Logger, counter Counter) (*Sender, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("webhook %q: %w", cfg.Name, errors.Join(errs...))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	cfg.MaxAttempts = max(cfg.MaxAttempts, 1)
	cfg.Queue = max(cfg.Queue, 1)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sender{cfg: cfg, sink: "webhook:" + cfg.Name, target: Redacted(cfg.URL), logger: logger, counter: counter,
		queue: make(chan []byte, cfg.Queue), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		client: &http.Client{
			Timeout: cfg.Timeout,
			// A receiver's redirect would send the signed alert elsewhere
			// (possibly to plain http): not followed, the 3xx is final.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
	go s.run()
	return s, nil
}

// Name is the webhook's config name.
func (s *Sender) Name() string { return s.cfg.Name }

// Notify queues a for delivery, or drops it when the queue is full (counted).
// It encodes the payload at once, so a.Evidence is not retained.
func (s *Sender) Notify(a alert.Alert) {
	body, err := json.Marshal(NewPayload(a))
	if err != nil { // a map[string]int64 always encodes
		s.drop()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.drop()
		return
	}
	select {
	case s.queue <- body:
	default:
		// Drop the newest: the alerts already queued came first and keep
		// their order; the counter tells the operator alerts went missing.
		s.drop()
	}
}

func (s *Sender) drop() {
	s.dropped.Add(1)
	if s.counter != nil {
		s.counter.AlertDropped(s.sink)
	}
}

// Stats returns the counts so far.
func (s *Sender) Stats() Stats {
	return Stats{Delivered: s.delivered.Load(), Failed: s.failed.Load(), Dropped: s.dropped.Load(), Attempts: s.attempts.Load()}
}

// Close stops accepting alerts and delivers those queued until ctx is done;
// then it abandons the rest (counted as dropped) and returns ctx's error.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.cancel()
		<-s.done
		return ctx.Err()
	}
}

func (s *Sender) run() {
	defer close(s.done)
	defer s.cancel()
	for body := range s.queue {
		if s.ctx.Err() != nil {
			s.drop() // Close's deadline passed: abandon what is left
			continue
		}
		s.deliver(body)
	}
}

// deliver makes up to MaxAttempts attempts; it returns when one succeeds,
// the answer is final, attempts run out, or Close's deadline passes.
func (s *Sender) deliver(body []byte) {
	id := newID()
	var last string
	for attempt := 1; ; attempt++ {
		s.attempts.Add(1)
		retry, wait, outcome := s.attempt(id, body)
		if outcome == "" {
			s.result("delivered")
			return
		}
		last = outcome
		if !retry || attempt == s.cfg.MaxAttempts || s.ctx.Err() != nil {
			break
		}
		if wait == 0 {
			wait = backoff(attempt)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
		}
	}
	s.result("failed")
	s.logger.Warn("alert webhook delivery failed", "webhook", s.cfg.Name, "target", s.target,
		"delivery", id, "error", last)
}

func (s *Sender) result(r string) {
	if r == "delivered" {
		s.delivered.Add(1)
	} else {
		s.failed.Add(1)
	}
	if s.counter != nil {
		s.counter.AlertDelivery(s.sink, r)
	}
}

// attempt POSTs body once. outcome is "" on success, else what went wrong
// (for the log: never the URL); retry says whether another attempt may help
// and wait is the receiver's Retry-After, if any.
func (s *Sender) attempt(id string, body []byte) (retry bool, wait time.Duration, outcome string) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, 0, "building the request failed"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Rampart-Alerts/1")
	req.Header.Set(DeliveryHeader, id)
	if s.cfg.Secret != "" {
		req.Header.Set(SignatureHeader, Sign([]byte(s.cfg.Secret), time.Now(), body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL (and its token): keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, 0, err.Error()
	}
	// Drain a little so the connection can be reused; never read unbounded.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, 0, ""
	case code == http.StatusTooManyRequests || code >= 500:
		return true, retryAfter(resp.Header.Get("Retry-After"), time.Now()), "answered " + strconv.Itoa(code)
	default:
		return false, 0, "answered " + strconv.Itoa(code) + " (not retried)"
	}
}

// Sign returns the X-Rampart-Signature value of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// backoff is the wait after the attempt-th failure: full jitter over an
// exponential ceiling (base·2^(attempt-1), capped), so replicas that failed
// together do not retry together.
func backoff(attempt int) time.Duration {
	ceiling := min(baseBackoff<<min(attempt-1, 20), maxBackoff)
	return ceiling/2 + mrand.N(ceiling/2+1)
}

// retryAfter parses a Retry-After value (seconds or an HTTP date), capped at
// maxRetryAfter; 0 when absent or unparsable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(n, 0), int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
