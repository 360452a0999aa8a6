package h1

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/rampart-gw/rampart/internal/framing"
)

// commonHeaders interns the canonical names of frequent request fields, so
// that a head written in lower case (or any non-canonical case) does not
// cost a string per field name.
var commonHeaders = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Encoding", "Content-Length", "Content-Type",
		"Cookie", "Date", "Dnt", "Expect", "Forwarded", "Host", "If-Match", "If-Modified-Since",
		"If-None-Match", "If-Range", "If-Unmodified-Since", "Keep-Alive", "Origin", "Pragma",
		"Priority", "Range", "Referer", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform",
		"Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User", "Te",
		"Traceparent", "Tracestate", "Trailer", "Transfer-Encoding", "Upgrade",
		"Upgrade-Insecure-Requests", "User-Agent", "Via", "X-Api-Key", "X-Correlation-Id",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id",
		"X-Requested-With",
	} {
		m[k] = k
	}
	return m
}()

// canonicalKey returns the canonical form of the field name (a token, as
// framing.ScanHead guarantees), like textproto.CanonicalMIMEHeaderKey. A
// name that is already canonical is returned as is (a substring of the head:
// no allocation); a common one comes from commonHeaders.
func canonicalKey(name string) string {
	upper := true
	canonical := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
			break
		}
		upper = c == '-'
	}
	if canonical {
		return name
	}
	var stack [64]byte
	var b []byte
	if len(name) <= len(stack) {
		b = stack[:len(name)]
	} else {
		b = make([]byte, len(name))
	}
	upper = true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	if s, ok := commonHeaders[string(b)]; ok {
		return s
	}
	return string(b)
}

// pathSafe marks the bytes that url.URL keeps unescaped in a path, so a
// path made only of them parses to itself (Path == raw, RawPath == "").
var pathSafe = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.~$&+,/:;=@" {
		t[c] = true
	}
	return t
}()

// parseTarget sets u to url.ParseRequestURI(target) (for CONNECT with an
// authority-form target, as net/http does). Plain origin-form targets take a
// fast path that does not allocate.
func parseTarget(method, target string, u *url.URL) bool {
	if len(target) > 0 && target[0] == '/' {
		path, query, hasQuery := strings.Cut(target, "?")
		fast := true
		for i := 0; i < len(path); i++ {
			if !pathSafe[path[i]] {
				fast = false
				break
			}
		}
		if fast {
			*u = url.URL{Path: path}
			if hasQuery {
				if query == "" {
					u.ForceQuery = true
				} else {
					u.RawQuery = query
				}
			}
			return true
		}
	}
	raw := target
	justAuthority := method == http.MethodConnect && !strings.HasPrefix(raw, "/")
	if justAuthority {
		raw = "http://" + raw
	}
	p, err := url.ParseRequestURI(raw)
	if err != nil {
		return false
	}
	if justAuthority {
		p.Scheme = ""
	}
	*u = *p
	return true
}

// parsedHead is what parseHead learns beyond the Request fields.
type parsedHead struct {
	expectContinue bool // Expect: 100-continue on HTTP/1.1 with a body
}

// parseHead fills r (Method, URL = u, Proto*, Header, Host, RequestURI,
// ContentLength, TransferEncoding, Close, Trailer) from hs, a complete head
// that framing.ScanHead accepted. All strings are substrings of hs. It
// returns a framing reason when net/http would refuse the head.
func parseHead(hs string, r *http.Request, u *url.URL) (p parsedHead, reason framing.Reason) {
	for len(hs) > 0 && (hs[0] == '\r' || hs[0] == '\n') {
		hs = hs[1:]
	}
	line, rest, _ := strings.Cut(hs, "\n")
	line = strings.TrimSuffix(line, "\r")
	method, line, ok1 := strings.Cut(line, " ")
	target, version, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || !framing.ValidToken(method) {
		return p, framing.ReasonBadRequestLine
	}
	switch version {
	case "HTTP/1.1":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	case "HTTP/1.0":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
	default:
		return p, framing.ReasonBadVersion
	}
	r.Method, r.RequestURI = method, target

	// Fields. One []string backs all single values, as in net/textproto.
	n := strings.Count(rest, "\n")
	h := make(http.Header, n)
	strs := make([]string, n)
	var nHost int
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		key := canonicalKey(name)
		value = framing.TrimOWS(value)
		if key == "Host" {
			nHost++
		}
		if vv, ok := h[key]; ok {
			h[key] = append(vv, value)
			continue
		}
		strs[0] = value
		h[key] = strs[:1:1]
		strs = strs[1:]
	}
	r.Header = h

	if hosts := h["Host"]; len(hosts) == 1 {
		if !httpguts.ValidHostHeader(hosts[0]) {
			return p, framing.ReasonBadHost
		}
		r.Host = hosts[0]
		delete(h, "Host")
	} else if nHost == 0 && r.ProtoMinor == 1 && method != http.MethodConnect {
		return p, framing.ReasonMissingHost
	}
	if target == "" || !parseTarget(method, target, u) {
		return p, framing.ReasonBadTarget
	}
	r.URL = u
	if u.Host != "" {
		// net/http takes the absolute-form target's host unchecked.
		if !httpguts.ValidHostHeader(u.Host) {
			return p, framing.ReasonBadTarget
		}
		r.Host = u.Host
	}

	// Framing; ScanHead checked it.
	r.ContentLength = 0
	if _, ok := h["Transfer-Encoding"]; ok {
		delete(h, "Transfer-Encoding")
		r.TransferEncoding = []string{"chunked"}
		r.ContentLength = -1
		if vv, ok := h["Trailer"]; ok {
			t, ok := declaredTrailer(vv)
			if !ok {
				return p, framing.ReasonMalformed
			}
			delete(h, "Trailer")
			r.Trailer = t
		}
	} else if cl := h["Content-Length"]; len(cl) == 1 {
		n, err := strconv.ParseInt(cl[0], 10, 64)
		if err != nil || n < 0 {
			return p, framing.ReasonBadContentLength
		}
		r.ContentLength = n
	}
	conn := h["Connection"]
	if r.ProtoMinor == 0 {
		r.Close = !httpguts.HeaderValuesContainsToken(conn, "keep-alive") || httpguts.HeaderValuesContainsToken(conn, "close")
	} else {
		r.Close = httpguts.HeaderValuesContainsToken(conn, "close")
	}
	// net/http's fixPragmaCacheControl.
	if hp := h["Pragma"]; len(hp) > 0 && hp[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	if ex := h["Expect"]; len(ex) > 0 {
		if httpguts.HeaderValuesContainsToken(ex[:1], "100-continue") {
			p.expectContinue = r.ProtoMinor == 1 && r.ContentLength != 0
		} else if ex[0] != "" {
			return p, framing.ReasonBadExpect
		}
	}
	return p, ""
}

// declaredTrailer is net/http's fixTrailer for a chunked request.
func declaredTrailer(vv []string) (http.Header, bool) {
	t := make(http.Header)
	for _, v := range vv {
		for _, f := range strings.Split(v, ",") {
			f = framing.TrimOWS(f)
			if f == "" {
				continue
			}
			key := http.CanonicalHeaderKey(f)
			switch key {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return nil, false
			}
			t[key] = nil
		}
	}
	return t, true
}
