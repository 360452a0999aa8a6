// Package framing holds Rampart's HTTP/1.x wire rules, the one definition
// used by its server (internal/h1) for requests and by its forwarder
// (internal/proxy) for upstream responses: the request-head scanner that
// refuses request-smuggling shapes, the token and field-value character
// classes, and the strict chunked reader and writer.
//
// # Why
//
// An HTTP/1.1 message says where its body ends in one of two ways:
// Content-Length or Transfer-Encoding: chunked (RFC 9112 §6). When two
// parsers in a chain disagree about which one applies, or about how to read
// a malformed one, bytes that one of them treats as body are the next request
// for the other. That is request smuggling (RFC 9112 §11.2; James Kettle,
// "HTTP Desync Attacks: Request Smuggling Reborn", PortSwigger Research, 2019,
// and PortSwigger's later desync research). RFC 9112 therefore asks a server
// to be strict: a request with both fields "ought to be handled as an error"
// and the connection MUST be closed after responding (§6.1, §6.3);
// Transfer-Encoding in an HTTP/1.0 message MUST be treated as faulty framing
// (§6.1); when chunked is not the final coding, or Content-Length is invalid,
// the server MUST answer 400 and close (§6.3); whitespace between a field
// name and its colon MUST be rejected with 400 (§5.1); obs-fold may be
// rejected with 400 (§5.2).
//
// Go's net/http quietly repairs some of these shapes instead of refusing them
// (it drops Content-Length beside chunked, ignores Transfer-Encoding on
// HTTP/1.0, folds obs-fold lines, merges equal Content-Length lines). A
// security gateway must not forward the result of such a repair: it answers
// 400 and closes. The rules here accept a subset of what net/http accepts,
// so wherever both accept a message they agree on where it ends.
//
// # What
//
// [ScanHead] and [HeadScanner] check a request head before it is parsed and
// give a [Reason] for a refusal. [ChunkedReader] decodes a chunked body
// (requests in h1, responses in proxy) and fails with an error wrapping
// [ErrBadChunk]; [AppendChunkSize] and [LastChunk] write one. [IsTokenChar],
// [ValidToken] and [ValidValue] are the character rules for methods, field
// names and values. [Linger] is the lingering close of a connection whose
// client may still be sending.
//
// Where RFC 9112 allows a choice these rules accept what net/http accepts and
// no more: a bare LF may end a head line (§2.2), CR and LF bytes before a
// request line are skipped (§2.2), and chunk lines must end in CRLF (Go,
// RFC 9112 errata 7633).
package framing

import (
	"errors"
	"net"
	"time"
)

// Reason says why a request head was refused. The values are stable: logs,
// metrics and the gateway's problem responses use them.
type Reason string

// Reasons for a refusal.
const (
	// ReasonCLAndTE: both Content-Length and Transfer-Encoding.
	ReasonCLAndTE Reason = "cl-and-te"
	// ReasonBadTransferEncoding: a Transfer-Encoding that is not exactly one
	// field line whose value is the single coding "chunked".
	ReasonBadTransferEncoding Reason = "bad-transfer-encoding"
	// ReasonTEOnHTTP10: Transfer-Encoding on an HTTP/1.0 request.
	ReasonTEOnHTTP10 Reason = "te-on-http10"
	// ReasonObsFold: a field line that begins with SP or HTAB.
	ReasonObsFold Reason = "obs-fold"
	// ReasonBadContentLength: a Content-Length that is not one field line of
	// 1*DIGIT no larger than 2^62.
	ReasonBadContentLength Reason = "bad-content-length"
	// ReasonHeaderTooLarge: the head is longer than the limit.
	ReasonHeaderTooLarge Reason = "header-too-large"
	// ReasonBadChunk: malformed chunked framing. It is reported through
	// [ErrBadChunk] on the body, not as a refused head.
	ReasonBadChunk Reason = "bad-chunk"
	// ReasonSpaceBeforeColon: whitespace between a field name and its colon.
	ReasonSpaceBeforeColon Reason = "space-before-colon"
	// ReasonBadHeaderLine: a field line without a colon or with an empty name.
	ReasonBadHeaderLine Reason = "bad-header-line"
	// ReasonBadTarget: a request-target with a malformed percent-escape in
	// its path or a control byte.
	ReasonBadTarget Reason = "bad-target"
	// ReasonBadHeaderValue: a control byte (other than HTAB) in a field value.
	ReasonBadHeaderValue Reason = "bad-header-value"
	// ReasonBadHost: more than one Host field line, or a Host value that is
	// not a valid host (RFC 9112 §3.2).
	ReasonBadHost Reason = "bad-host"
	// ReasonMalformed: the fallback for anything else.
	ReasonMalformed Reason = "malformed"
)

// ErrBadChunk is wrapped by the error a [ChunkedReader] returns once a
// chunked body turned out to be malformed. Test for it with errors.Is.
var ErrBadChunk = errors.New("framing: malformed chunked body")

// Lingering close bounds: a refused client gets this long, and may send this
// much, before the connection is closed for good. Time is the real bound
// (nginx's lingering_time, which has no byte bound): a client busy uploading
// needs a moment to read the answer, and a reset before it did makes it see
// a broken pipe instead; the byte bound only caps the bandwidth one refusal
// can waste.
const (
	lingerTimeout  = 2 * time.Second
	lingerMaxBytes = 64 << 20
)

// Linger closes c after a half-close: it sends FIN, discards what the client
// still sends (for at most 2 s, at most 64 MiB, like nginx's lingering
// close), then closes. A client
// that sent more than was read (a refused request's body, pipelined requests
// after a refused head) must still read the response instead of a reset that
// can discard it (RFC 9112 §9.6; Go issue 3595). scratch is the buffer the
// discarded bytes are read into. Connections without CloseWrite are just
// closed.
func Linger(c net.Conn, scratch []byte) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		if c.SetReadDeadline(time.Now().Add(lingerTimeout)) == nil {
			for n := 0; n < lingerMaxBytes; {
				k, err := c.Read(scratch)
				n += k
				if err != nil {
					break
				}
			}
		}
	}
	_ = c.Close()
}
