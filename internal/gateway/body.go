package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/rampart-gw/rampart/internal/framing"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// bodyLimit reads the whole request body, up to max bytes, before anything is
// sent upstream — nginx's default (proxy_request_buffering on). Buffering is
// what lets the gateway promise that an oversized body (413, counted while
// reading, whatever Content-Length claimed) or a malformed chunked body (400)
// never reaches the upstream, and it gives later steps (OpenAPI validation) the
// body to check. The upstream gets a plain Content-Length request: client
// chunking and trailers stop here.
func bodyLimit(max int64, obs pipeline.Observer) pipeline.Middleware {
	tooLarge := func() *pipeline.Rejection {
		rej := pipeline.Reject(http.StatusRequestEntityTooLarge, "body-too-large", "The request body is larger than this gateway accepts.")
		rej.Close = true // the rest of the body is left unread
		return rej
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Trailer = nil
			if r.ContentLength == 0 && len(r.TransferEncoding) == 0 || r.Body == nil || r.Body == http.NoBody {
				r.Body, r.ContentLength = http.NoBody, 0
				next.ServeHTTP(w, r)
				return
			}
			if r.ContentLength > max {
				pipeline.Refuse(w, r, "body", obs, tooLarge())
				return
			}
			size := r.ContentLength
			if size < 0 {
				size = 4096
			}
			buf := bytes.NewBuffer(make([]byte, 0, size+1))
			n, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
			if err != nil {
				rej := pipeline.Reject(http.StatusBadRequest, "bad-body", "The request body could not be read: it is malformed or incomplete.")
				var ne net.Error
				if errors.Is(err, framing.ErrBadChunk) {
					rej.Type, rej.Detail = "bad-framing", "The chunked request body is malformed."
				} else if errors.As(err, &ne) && ne.Timeout() {
					rej.Status, rej.Type, rej.Detail = http.StatusRequestTimeout, "body-timeout", "The request body did not arrive in time."
				}
				rej.Err, rej.Close = err, true
				pipeline.Refuse(w, r, "body", obs, rej)
				return
			}
			if n > max {
				pipeline.Refuse(w, r, "body", obs, tooLarge())
				return
			}
			body := buf.Bytes()
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			r.ContentLength = n
			r.TransferEncoding = nil
			if n == 0 {
				r.Body, r.GetBody = http.NoBody, nil
			}
			next.ServeHTTP(w, r)
		})
	}
}
