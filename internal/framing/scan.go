package framing

import "bytes"

// Reasons for request lines and fields that net/http refuses as well.
const (
	// ReasonBadRequestLine: a request line that is not
	// method SP request-target SP HTTP-version, or whose method is not a
	// token.
	ReasonBadRequestLine Reason = "bad-request-line"
	// ReasonBadVersion: an HTTP version other than HTTP/1.0 and HTTP/1.1,
	// the HTTP/2 preface "PRI * HTTP/2.0" included.
	ReasonBadVersion Reason = "bad-version"
	// ReasonMissingHost: an HTTP/1.1 request without a Host field.
	ReasonMissingHost Reason = "missing-host"
	// ReasonBadExpect: an Expect field other than 100-continue.
	ReasonBadExpect Reason = "bad-expect"
)

// ScanHead applies this package's head rules to b, which starts at the first
// byte of a request head (CR or LF bytes before the request line included).
// limit is the largest head allowed. It reports one of:
//
//   - n > 0, reason == "": b[:n] is a complete head that passes the rules
//     (its body is chunked if it has a Transfer-Encoding field, otherwise
//     as long as its Content-Length, or empty);
//   - reason != "": the head is refused, for one of the Reason constants;
//     a request line that is not method SP target SP HTTP/x.y, or whose
//     major version is not 1, gives [ReasonBadRequestLine] or
//     [ReasonBadVersion];
//   - n == 0, reason == "": b holds no complete head yet.
//
// It scans b from its start on every call; a server reading a head in
// pieces uses a [HeadScanner], which examines each byte once.
func ScanHead(b []byte, limit int) (n int, reason Reason) {
	var s HeadScanner
	return s.Scan(b, limit)
}

// HeadScanner is [ScanHead] for a head that arrives in pieces: Scan is
// called again with the same head from its first byte, longer each time,
// and only the new bytes are examined (a head trickled in one byte per
// packet costs linear, not quadratic, time). Reset it before the next head.
// The zero value is ready.
type HeadScanner struct{ h headScan }

// Reset prepares the scanner for a new head.
func (s *HeadScanner) Reset() { s.h = headScan{} }

// Scan is ScanHead on b, the head so far from its first byte.
func (s *HeadScanner) Scan(b []byte, limit int) (n int, reason Reason) {
	v, n, reason := s.h.scan(b, limit)
	switch v {
	case headOK:
		return n, ""
	case headReject:
		return 0, reason
	case headPass:
		line := trimLeadingNewlines(b)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = bytes.TrimSuffix(line[:i], []byte("\r"))
		}
		if _, _, ok := requestVersion(line); ok {
			return 0, ReasonBadVersion
		}
		return 0, ReasonBadRequestLine
	}
	return 0, ""
}

func trimLeadingNewlines(b []byte) []byte {
	for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
