package detect

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/url"
	"strings"
)

// LoginUsername reads the top-level field of a login request's body: a
// JSON object, or a form (application/x-www-form-urlencoded). Only that
// field is decoded (never the password beside it), and the result is
// bounded and sanitised by Username. "" when it is absent or not a string.
func LoginUsername(body []byte, contentType, field string) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/x-www-form-urlencoded":
		return formField(body, field)
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		return jsonField(body, field)
	}
	return ""
}

func formField(body []byte, field string) string {
	for len(body) > 0 {
		var pair []byte
		pair, body, _ = bytes.Cut(body, []byte("&"))
		k, v, _ := bytes.Cut(pair, []byte("="))
		if key, err := url.QueryUnescape(string(k)); err != nil || key != field {
			continue
		}
		if len(v) > 4*MaxUsername*3 {
			v = v[:4*MaxUsername*3]
		}
		s, err := url.QueryUnescape(string(v))
		if err != nil {
			return ""
		}
		return Username(s)
	}
	return ""
}

func jsonField(body []byte, field string) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := t.(string)
		if key != field {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return ""
			}
			continue
		}
		v, err := dec.Token()
		if s, ok := v.(string); ok && err == nil {
			return Username(s)
		}
		return ""
	}
	return ""
}
