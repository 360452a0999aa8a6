// Package framing refuses HTTP/1.x request-smuggling shapes on the raw bytes
// of a connection, before net/http parses them.
//
// Rampart's public listener no longer runs net/http for HTTP/1: its own
// server (internal/h1) applies this package's rules through [HeadScanner]
// and [Rejected]'s synthetic requests, with one parse per head. The
// connection wrapper ([NewListener]) below remains for any net/http server
// that needs the same protection; the rest of this comment describes it.
//
// # Why
//
// An HTTP/1.1 request says where its body ends in one of two ways:
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
// Go's net/http server is stricter than most, but it quietly fixes some of
// these shapes instead of refusing them, so by the time a handler sees the
// request the evidence is gone:
//
//   - with both Content-Length and Transfer-Encoding: chunked it deletes
//     Content-Length and frames by chunked (transfer.go, fixLength);
//   - it ignores Transfer-Encoding on HTTP/1.0 requests and frames by
//     Content-Length (transfer.go, parseTransferEncoding; Go issue 12785);
//   - it folds obs-fold continuation lines (a line starting with SP or HTAB)
//     into the previous field (net/textproto);
//   - it merges repeated, equal Content-Length lines into one (fixLength).
//
// A security gateway must not forward the result of such a repair: it has to
// answer 400 and close the connection, and the upstream must never see the
// request. This package therefore reads the raw HTTP/1.x bytes of each
// connection and holds back every request head until the whole head has been
// read and checked.
//
// # How
//
// [NewListener] wraps the public listener (below net/http, above TLS). The
// connection it returns releases a request head to its reader only once the
// whole head is buffered (at most maxHeaderBytes) and valid. It then follows
// the body exactly as net/http will frame it: n bytes for Content-Length: n,
// the chunked state machine (size lines, data, CRLF, last chunk, trailer
// fields) for Transfer-Encoding: chunked, nothing otherwise. After the body,
// the next head is held back again, so keep-alive and pipelined requests are
// each checked.
//
// A head that breaks a rule is never released. In its place the reader gets
// a synthetic head, see [RejectMethod], followed by io.EOF for good. The
// server's handler recognises it with [Rejected], answers 400 with
// Connection: close, and net/http closes the connection.
//
// A malformed chunked body is found after its head was released, so it
// cannot be replaced. Instead Read returns the valid part of the body, then,
// for good, an error that wraps [ErrBadChunk], so net/http's body reader
// fails and the handler's read of the body reports it. Chunk data is
// released as it arrives, but a chunk-size line (with the CRLF before it) and
// the last chunk with its trailer section are held back until they are
// complete and valid, so net/http never sees part of a malformed line and
// reports ErrBadChunk rather than an error of its own. The gateway reads a
// whole body before it forwards the request, so the upstream never sees such
// a body. The error is a *net.OpError with Op "read", so net/http treats the
// connection as broken and closes it without writing a second response.
//
// A connection that was refused lingers on Close: it half-closes (FIN),
// discards what the client still sends for a short while, then closes. A
// client that sent more than was read must still get its 400 instead of a
// reset that can discard the response (RFC 9112 §9.6; Go issue 3595).
//
// Some heads are passed through unchanged: a request line net/http cannot
// parse (fewer than two spaces, a version that is not HTTP/x.y) or whose
// major version is not 1, which includes the HTTP/2 prior-knowledge preface
// "PRI * HTTP/2.0". net/http answers those itself and closes the connection
// (or, for the preface, hands it to HTTP/2), so the wrapper stops inspecting
// the connection. Other faults net/http refuses on its own, such as bytes
// that are not allowed in a field name or value, an invalid method or target,
// or a missing Host, are not turned into a framing rejection: the head is
// released, net/http answers 400 and closes, and the wrapper keeps tracking
// the framing all the same.
//
// Where RFC 9112 allows a choice the wrapper accepts what net/http accepts
// and no more: a bare LF may end a head line (§2.2), CR and LF bytes before a
// request line are released with the head (§2.2; net/http ignores up to four
// of them after a POST and answers 400 otherwise), and chunk lines must end
// in CRLF (Go, RFC 9112 errata 7633).
//
// Upgrades (101 Switching Protocols, CONNECT tunnels) are not supported: the
// wrapper would keep parsing the tunnelled bytes as requests.
package framing

import (
	"errors"
	"net"
	"net/http"
	"strings"
)

// RejectMethod is the method of the synthetic request delivered to net/http
// in place of a request head that violates framing rules. Its target is
// "/" followed by the reason, for example:
//
//	RAMPART-REJECT /cl-and-te HTTP/1.1
//	Host: rampart.invalid
//	Connection: close
//
// A client could send RAMPART-REJECT itself; that is harmless because the
// gateway answers every such request with 400 anyway.
const RejectMethod = "RAMPART-REJECT"

// Reasons for a rejection. They are stable: logs, metrics and the problem
// responses of the gateway use them.
const (
	// ReasonCLAndTE: both Content-Length and Transfer-Encoding.
	ReasonCLAndTE = "cl-and-te"
	// ReasonBadTransferEncoding: a Transfer-Encoding that is not exactly one
	// field line whose value is the single coding "chunked".
	ReasonBadTransferEncoding = "bad-transfer-encoding"
	// ReasonTEOnHTTP10: Transfer-Encoding on an HTTP/1.0 request.
	ReasonTEOnHTTP10 = "te-on-http10"
	// ReasonObsFold: a field line that begins with SP or HTAB.
	ReasonObsFold = "obs-fold"
	// ReasonBadContentLength: a Content-Length that is not one field line of
	// 1*DIGIT no larger than 2^62.
	ReasonBadContentLength = "bad-content-length"
	// ReasonHeaderTooLarge: the head is longer than maxHeaderBytes.
	ReasonHeaderTooLarge = "header-too-large"
	// ReasonBadChunk: malformed chunked framing. It is reported through
	// [ErrBadChunk] on the body, not through a synthetic request.
	ReasonBadChunk = "bad-chunk"
	// ReasonSpaceBeforeColon: whitespace between a field name and its colon.
	ReasonSpaceBeforeColon = "space-before-colon"
	// ReasonBadHeaderLine: a field line without a colon or with an empty name.
	ReasonBadHeaderLine = "bad-header-line"
	// ReasonBadTarget: a request-target with a malformed percent-escape in
	// its path or a control byte.
	ReasonBadTarget = "bad-target"
	// ReasonBadHeaderValue: a control byte (other than HTAB) in a field value.
	ReasonBadHeaderValue = "bad-header-value"
	// ReasonBadHost: more than one Host field line (RFC 9112 §3.2). A
	// missing Host is left to net/http.
	ReasonBadHost = "bad-host"
	// ReasonMalformed: the fallback for anything else.
	ReasonMalformed = "malformed"
)

// ErrBadChunk is wrapped by the error Read returns once a chunked request
// body turned out to be malformed. Test for it with errors.Is.
var ErrBadChunk = errors.New("framing: malformed chunked request body")

// defaultMaxHeaderBytes is used when NewListener gets maxHeaderBytes <= 0.
const defaultMaxHeaderBytes = 16 << 10

// NewListener wraps l so each accepted conn is inspected. maxHeaderBytes
// bounds how much of a request head is held back (<=0 means 16 KiB); a
// longer head is rejected with [ReasonHeaderTooLarge]. The count includes
// the request line, the empty line that ends the head and any CR or LF bytes
// before the request line.
//
// Wrap the plain-text stream: the TCP listener, or a TLS listener. Note that
// net/http recognises TLS only on a *tls.Conn, which the returned conns are
// not; they have a NetConn method that returns the conn they wrap.
func NewListener(l net.Listener, maxHeaderBytes int) net.Listener {
	if maxHeaderBytes <= 0 {
		maxHeaderBytes = defaultMaxHeaderBytes
	}
	return &listener{Listener: l, max: maxHeaderBytes}
}

type listener struct {
	net.Listener
	max int
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newConn(c, l.max), nil
}

// Rejected reports whether r is a synthetic request delivered in place of a
// refused head (see [RejectMethod]) and, if so, the reason: one of the Reason
// constants, [ReasonMalformed] when the target names no known reason.
func Rejected(r *http.Request) (reason string, ok bool) {
	if r == nil || r.Method != RejectMethod {
		return "", false
	}
	target := r.RequestURI
	if target == "" && r.URL != nil {
		target = r.URL.Path
	}
	switch reason := strings.TrimPrefix(target, "/"); reason {
	case ReasonCLAndTE, ReasonBadTransferEncoding, ReasonTEOnHTTP10,
		ReasonObsFold, ReasonBadContentLength, ReasonHeaderTooLarge,
		ReasonBadChunk, ReasonSpaceBeforeColon, ReasonBadHeaderLine,
		ReasonBadTarget, ReasonBadHeaderValue, ReasonBadHost, ReasonMalformed,
		ReasonBadRequestLine, ReasonBadVersion, ReasonMissingHost, ReasonBadExpect:
		return reason, true
	}
	return ReasonMalformed, true
}

// rejectHead is the synthetic request head for reason.
func rejectHead(reason string) string {
	return RejectMethod + " /" + reason + " HTTP/1.1\r\nHost: rampart.invalid\r\nConnection: close\r\n\r\n"
}
