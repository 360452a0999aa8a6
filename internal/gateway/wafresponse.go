package gateway

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/waf"
)

// TypeResponseBlocked is the problem type of an answer the WAF withheld
// (inspect_responses): the upstream's answer leaked what the CRS's
// response rules look for (SQL or stack-trace errors, web shells…).
const TypeResponseBlocked = "response-blocked"

// wafWriter holds back the upstream's answer while the response rules
// look at it: the status and header (phase 3), then a textual body up to
// max_response_bytes (phase 4). Nothing reaches the client before the
// decision, so a withheld answer becomes a clean 502. A body larger than
// the limit is decided on its first max_response_bytes, which are then
// sent, and the rest streams uninspected. Memory per answer: the held
// bytes, once (Coraza's buffer is the only copy).
type wafWriter struct {
	http.ResponseWriter
	x      *waf.Exchange
	g      *Gateway
	r      *http.Request
	p      *waf.Policy
	before []string // header keys the gateway set before the upstream answered

	state  wafState
	status int
	res    *waf.Result // what the response rules found (reported at finish)
	held   int64       // bytes reserved in the body budget for Coraza's copy
}

// releaseHeld gives the held body's room back to the budget, once the
// transaction holding it is closed.
func (w *wafWriter) releaseHeld() {
	w.g.bodies.Release(w.held)
	w.held = 0
}

type wafState uint8

const (
	wafUndecided wafState = iota
	wafHold               // body held back for inspection
	wafPass               // decided: passing through
	wafWithheld           // decided: refused; the body is discarded
)

// Unwrap lets http.ResponseController reach Hijack and the deadlines.
func (w *wafWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// FlushError is a no-op while the body is held back (the forwarder flushes
// after writes); once passed, it flushes.
func (w *wafWriter) FlushError() error {
	if w.state == wafUndecided {
		w.WriteHeader(http.StatusOK)
	}
	if w.state != wafPass {
		return nil
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher for callers that type-assert.
func (w *wafWriter) Flush() { _ = w.FlushError() }

func (w *wafWriter) WriteHeader(code int) {
	if w.state != wafUndecided {
		if w.state == wafPass {
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if code < 200 { // 1xx informational answers are not the response
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
	read, res := w.x.Headers(code, w.r.Proto, w.Header())
	switch {
	case res != nil:
		w.decide(res)
	case read && bodyAllowed(w.r.Method, code) && !streaming(w.Header()):
		w.state = wafHold
	default:
		res, err := w.x.Finish() // phase 4 without a body
		if err != nil {
			w.fail(err)
			return
		}
		w.decide(res)
	}
}

// bodyAllowed: HEAD, 204 and 304 answers have no body to hold.
func bodyAllowed(method string, code int) bool {
	return method != http.MethodHead && code != http.StatusNoContent && code != http.StatusNotModified
}

// streaming: server-sent events are read as they come; holding them back
// would break them. Their header is still inspected.
func streaming(h http.Header) bool {
	return mediaType(h.Get("Content-Type")) == "text/event-stream"
}

func (w *wafWriter) Write(p []byte) (int, error) {
	if w.state == wafUndecided {
		w.WriteHeader(http.StatusOK)
	}
	switch w.state {
	case wafHold:
		// What Coraza holds counts against the body memory budget; an
		// answer that finds no room is withheld (it cannot be inspected).
		take := min(int64(len(p)), int64(w.p.Config().MaxResponseBytes)-w.held)
		if err := w.g.bodies.Reserve(take); err != nil {
			w.fail(err)
			return len(p), nil
		}
		w.held += take
		n, full, err := w.x.Write(p)
		if err != nil {
			w.fail(err)
			return len(p), nil
		}
		if !full {
			return len(p), nil
		}
		// The limit is reached: decide on what is held, send it, and let
		// the rest through uninspected.
		res, err := w.x.Finish()
		if err != nil {
			w.fail(err)
			return len(p), nil
		}
		if w.decide(res); w.state != wafPass {
			return len(p), nil
		}
		if err := w.release(); err != nil {
			return 0, err
		}
		if _, err := w.ResponseWriter.Write(p[n:]); err != nil {
			return 0, err
		}
		return len(p), nil
	case wafWithheld:
		return len(p), nil // discarded: the client gets a 502
	case wafPass:
		return w.ResponseWriter.Write(p)
	}
	return 0, http.ErrBodyNotAllowed
}

// decide records what the rules found and passes or withholds the answer.
func (w *wafWriter) decide(res *waf.Result) {
	w.res = res
	if wafDecision(res, w.p.Detect()) == "block" {
		w.state = wafWithheld
		return
	}
	w.state = wafPass
	if w.status != 0 {
		w.ResponseWriter.WriteHeader(w.status)
	}
}

// fail: the engine failed on the answer; it is withheld (fail closed).
func (w *wafWriter) fail(err error) {
	w.state = wafWithheld
	w.res = nil
	w.g.logger.Error("waf: inspecting the response failed", "waf", w.p.Config().Name, "error", err)
}

// release sends the held body after its header.
func (w *wafWriter) release() error {
	held, err := w.x.Held()
	if err != nil {
		return err
	}
	_, err = io.Copy(w.ResponseWriter, held)
	return err
}

// finish decides an answer still held (it ended within the limit), sends
// or withholds it, and reports what the response rules found.
func (w *wafWriter) finish() {
	if w.state == wafUndecided { // the handler wrote nothing: an empty 200
		w.WriteHeader(http.StatusOK)
	}
	if w.state == wafHold {
		res, err := w.x.Finish()
		if err != nil {
			w.fail(err)
		} else if w.decide(res); w.state == wafPass {
			_ = w.release()
		}
	}
	w.report()
	if w.state != wafWithheld {
		return
	}
	h := w.Header()
	for k := range h {
		if !slices.Contains(w.before, k) {
			delete(h, k)
		}
	}
	rej := pipeline.Reject(http.StatusBadGateway, TypeResponseBlocked, "The upstream's answer was withheld by the gateway's security rules.")
	if w.res != nil {
		rej.Err = w.res
	} else {
		rej.Err = errWAFResponse
	}
	pipeline.Refuse(w.ResponseWriter, w.r, "waf", w.g.obs, rej)
}

// report counts the response decision and logs what matched and passed.
func (w *wafWriter) report() {
	res := w.res
	decision := wafDecision(res, w.p.Detect())
	if w.g.metrics != nil {
		var rules []int
		if res != nil {
			rules = res.Rules
		}
		w.g.metrics.WAF(w.p.Config().Name, w.p.Config().Mode, "response", decision, rules)
	}
	if res != nil && decision != "block" {
		w.g.wafEvent(w.r, res, w.p.Config().Mode)
	}
}

var errWAFResponse = errors.New("waf: the response could not be inspected")

// mediaType is the lower-case type/subtype of a Content-Type.
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}
