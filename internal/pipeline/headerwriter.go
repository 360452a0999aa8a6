package pipeline

import (
	"io"
	"net/http"
)

// HeaderHook is told once, just before a response header leaves, so it can
// still change it.
type HeaderHook interface {
	BeforeHeader(h http.Header)
}

// HeaderWriter wraps a ResponseWriter and calls Hook before the header is
// sent — on WriteHeader (final responses only: 1xx pass untouched, they are
// not the response and a proxy clears the header map after
// forwarding one), Write, ReadFrom, Flush, or not at all if nothing is
// written (call Finish). It keeps http.ResponseController working (Unwrap),
// so flushing for SSE, deadlines and Hijack still reach the server.
//
// Embed it in a per-request struct that implements HeaderHook and set
// Hook to that struct: one allocation per request for both.
type HeaderWriter struct {
	http.ResponseWriter
	Hook HeaderHook // nil once it ran
}

func (w *HeaderWriter) apply() {
	if h := w.Hook; h != nil {
		w.Hook = nil
		h.BeforeHeader(w.ResponseWriter.Header())
	}
}

// Finish runs the hook if the handler returned without writing anything
// (net/http then sends an implicit 200 with the header as it is).
func (w *HeaderWriter) Finish() { w.apply() }

// WriteHeader runs the hook for final responses.
func (w *HeaderWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.apply()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *HeaderWriter) Write(b []byte) (int, error) {
	w.apply()
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps io.Copy into the response on the underlying writer's fast path.
func (w *HeaderWriter) ReadFrom(src io.Reader) (int64, error) {
	w.apply()
	return io.Copy(w.ResponseWriter, src)
}

// FlushError is what http.ResponseController.Flush and the proxy's streaming
// call; flushing sends the header, so the hook runs first.
func (w *HeaderWriter) FlushError() error {
	w.apply()
	switch f := w.ResponseWriter.(type) {
	case interface{ FlushError() error }:
		return f.FlushError()
	case http.Flusher:
		f.Flush()
		return nil
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher for code that type-asserts it.
func (w *HeaderWriter) Flush() { _ = w.FlushError() }

// Unwrap lets http.ResponseController reach Hijack and the deadlines.
func (w *HeaderWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	_ http.Flusher  = (*HeaderWriter)(nil)
	_ io.ReaderFrom = (*HeaderWriter)(nil)
)
