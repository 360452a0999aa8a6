package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/rampart-gw/rampart/internal/framing"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/spool"
)

// bodyPolicy is how one route takes request bodies.
type bodyPolicy struct {
	max    int64
	budget *spool.Budget
	obs    pipeline.Observer
	// inMemory: the body is validated (parsed whole), so it is never
	// spilled and may use up to max bytes of the memory budget.
	inMemory bool
	// stream: buffer_request: false.
	stream bool
}

// tooLarge refuses a body over max_body_bytes. The rest of the body is left
// unread, so the connection closes after the answer.
func tooLarge() *pipeline.Rejection {
	rej := pipeline.Reject(http.StatusRequestEntityTooLarge, "body-too-large", "The request body is larger than this gateway accepts.")
	rej.Close = true
	return rej
}

// noRoom refuses a body the budget cannot hold: the gateway is busy with
// other bodies, so the client may retry shortly.
func noRoom(err error) *pipeline.Rejection {
	rej := pipeline.Reject(http.StatusServiceUnavailable, "body-budget-exhausted",
		"The gateway cannot take this request body now; retry later.")
	rej.Header = http.Header{"Retry-After": {"2"}}
	rej.Err, rej.Close = err, true
	return rej
}

// badBody classifies a failed read of the client's body.
func badBody(err error) *pipeline.Rejection {
	rej := pipeline.Reject(http.StatusBadRequest, "bad-body", "The request body could not be read: it is malformed or incomplete.")
	var ne net.Error
	if errors.Is(err, framing.ErrBadChunk) {
		rej.Type, rej.Detail = "bad-framing", "The chunked request body is malformed."
	} else if errors.As(err, &ne) && ne.Timeout() {
		rej.Status, rej.Type, rej.Detail = http.StatusRequestTimeout, "body-timeout", "The request body did not arrive in time."
	}
	rej.Err, rej.Close = err, true
	return rej
}

// bodyLimit reads the whole request body, up to max bytes, before anything is
// sent upstream — nginx's default (proxy_request_buffering on). Buffering is
// what lets the gateway promise that an oversized body (413, counted while
// reading, whatever Content-Length claimed) or a malformed chunked body (400)
// never reaches the upstream, lets the proxy retry on another target, and
// gives later steps (OpenAPI validation) the body to check. The body is held
// within the process's body budget (spool): in memory up to
// body_buffer_bytes, spilled to disk past it, and refused with 503 when the
// budget has no room — decided before reading when Content-Length is known.
// The upstream gets a plain Content-Length request: client chunking and
// trailers stop here.
//
// With stream (buffer_request: false) the body goes to the upstream as it
// arrives; the limit is still enforced, by the reader the proxy reads.
func bodyLimit(p bodyPolicy) pipeline.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Trailer = nil
			if r.ContentLength == 0 && len(r.TransferEncoding) == 0 || r.Body == nil || r.Body == http.NoBody {
				r.Body, r.ContentLength = http.NoBody, 0
				next.ServeHTTP(w, r)
				return
			}
			if r.ContentLength > p.max {
				pipeline.Refuse(w, r, "body", p.obs, tooLarge())
				return
			}
			if p.stream {
				r.Body = &limitedBody{r: r.Body, left: p.max}
				next.ServeHTTP(w, r)
				return
			}
			buf, err := p.budget.Buffer(max(r.ContentLength, 0), p.max+1, p.inMemory)
			if err != nil {
				pipeline.Refuse(w, r, "body", p.obs, noRoom(err))
				return
			}
			// The consumers (validation, login detection, object
			// authorization, the proxy) read the bytes while the request
			// is served and keep none: its memory can serve later bodies.
			buf.ReuseMemory()
			defer buf.Free()
			if _, err := buf.Fill(r.Body, p.max+1); err != nil {
				rej := badBody(err)
				if errors.Is(err, spool.ErrNoRoom) {
					rej = noRoom(err)
				}
				pipeline.Refuse(w, r, "body", p.obs, rej)
				return
			}
			n := buf.Len()
			if n > p.max {
				pipeline.Refuse(w, r, "body", p.obs, tooLarge())
				return
			}
			r.ContentLength = n
			r.TransferEncoding = nil
			if n == 0 {
				r.Body, r.GetBody = http.NoBody, nil
			} else {
				r.Body = buf.Open()
				r.GetBody = func() (io.ReadCloser, error) { return buf.Open(), nil }
			}
			next.ServeHTTP(w, r)
		})
	}
}

// limitedBody is a streamed request body: its failures are rejections the
// proxy answers with (413 past the limit, 400/408 as when buffering).
type limitedBody struct {
	r    io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, tooLarge()
	}
	if err != nil && err != io.EOF {
		return n, badBody(err)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.r.Close() }
