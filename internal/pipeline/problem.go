package pipeline

import (
	"net/http"
	"strconv"
)

// TypePrefix prefixes every problem "type" (RFC 9457 §3.1.1): a URN is a valid
// type URI that does not pretend to be dereferenceable.
const TypePrefix = "urn:rampart:problem:"

// WriteProblem writes rej as an RFC 9457 application/problem+json response.
// The body is built by hand: every field is either a constant or escaped
// below, and it costs one small allocation instead of encoding/json's several.
func WriteProblem(w http.ResponseWriter, r *http.Request, rej *Rejection) {
	h := w.Header()
	for k, vs := range rej.Header {
		h[k] = vs
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	if rej.Close {
		h.Set("Connection", "close")
	}
	id := ""
	if info := InfoFrom(r.Context()); info != nil {
		id = info.ID
		h.Set("X-Request-ID", id)
	}
	title := http.StatusText(rej.Status)
	if title == "" {
		title = "Error"
	}
	b := make([]byte, 0, 192+len(rej.Detail)+len(id))
	b = append(b, `{"type":"`...)
	b = appendJSONString(b, TypePrefix+rej.Type)
	b = append(b, `","title":"`...)
	b = appendJSONString(b, title)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(rej.Status), 10)
	if rej.Detail != "" {
		b = append(b, `,"detail":"`...)
		b = appendJSONString(b, rej.Detail)
		b = append(b, '"')
	}
	if len(rej.Fields) > 0 {
		b = append(b, `,"errors":[`...)
		for i, f := range rej.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"pointer":"`...)
			b = appendJSONString(b, f.Pointer)
			b = append(b, `","detail":"`...)
			b = appendJSONString(b, f.Detail)
			b = append(b, `"}`...)
		}
		b = append(b, ']')
	}
	if id != "" {
		b = append(b, `,"request_id":"`...)
		b = appendJSONString(b, id)
		b = append(b, '"')
	}
	b = append(b, "}\n"...)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(rej.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s escaped for the inside of a JSON string. Besides
// the mandatory escapes it escapes <, > and & like encoding/json, so a
// problem body is inert even if a client renders it as HTML.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}
