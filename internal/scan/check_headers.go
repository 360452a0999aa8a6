package scan

import (
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// agg counts responses checked for one header rule and keeps the first miss.
type agg struct {
	checked, missing int
	first            *exchange
}

func (a *agg) add(ok bool, ex *exchange) {
	a.checked++
	if !ok {
		a.missing++
		if a.first == nil {
			a.first = ex
		}
	}
}

// headerState collects the header rules over baseline responses.
type headerState struct {
	nosniff    agg
	frameHTML  agg
	frameOther agg
	cache      agg
	hsts       agg
}

func (h *headerState) add(ex *exchange) {
	if ex.status >= 300 && ex.status < 400 || ex.status < 200 {
		return
	}
	h.nosniff.add(strings.EqualFold(strings.TrimSpace(ex.header.Get("X-Content-Type-Options")), "nosniff"), ex)
	framed := frameProtected(ex.header)
	if isHTML(ex) {
		h.frameHTML.add(framed, ex)
	} else {
		h.frameOther.add(framed, ex)
	}
	if ex.req.creds && ex.status >= 200 && ex.status < 300 {
		h.cache.add(hasDirective(ex.header.Values("Cache-Control"), "no-store"), ex)
	}
	if strings.HasPrefix(ex.url, "https://") {
		h.hsts.add(hstsOK(ex.header.Get("Strict-Transport-Security")), ex)
	}
}

func isHTML(ex *exchange) bool {
	mt, _, _ := mime.ParseMediaType(ex.header.Get("Content-Type"))
	return mt == "text/html" || mt == "application/xhtml+xml"
}

var reFrameAncestors = regexp.MustCompile(`(?i)(^|;)\s*frame-ancestors\s`)

func frameProtected(h http.Header) bool {
	xfo := strings.ToUpper(strings.TrimSpace(h.Get("X-Frame-Options")))
	if xfo == "DENY" || xfo == "SAMEORIGIN" {
		return true
	}
	for _, csp := range h.Values("Content-Security-Policy") {
		if reFrameAncestors.MatchString(csp) {
			return true
		}
	}
	return false
}

func hasDirective(values []string, d string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.EqualFold(strings.TrimSpace(name), d) {
				return true
			}
		}
	}
	return false
}

func hstsOK(v string) bool {
	for _, part := range strings.Split(v, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(strings.TrimSpace(name), "max-age") {
			n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
			return err == nil && n > 0
		}
	}
	return false
}

// reportHeaders turns the aggregates into findings (HDR001-003, TLS004).
func (s *scanner) reportHeaders() {
	h := &s.hdr
	if h.nosniff.checked == 0 {
		for _, r := range []string{"HDR001", "HDR002"} {
			s.skipped(r, "no API response to check")
		}
	} else {
		s.tested("HDR001", "HDR002")
	}
	if a := h.nosniff; a.missing > 0 {
		s.found(hit{rule: "HDR001", ex: a.first, key: "all",
			message: fmt.Sprintf("%d of %d API responses lack X-Content-Type-Options: nosniff.", a.missing, a.checked),
			proof:   fmt.Sprintf("%s %s answered %d without X-Content-Type-Options: nosniff", a.first.req.method, s.red.url(a.first.url), a.first.status)})
	}
	switch {
	case h.frameHTML.missing > 0:
		a := h.frameHTML
		s.found(hit{rule: "HDR002", ex: a.first, key: "all",
			message: fmt.Sprintf("%d of %d HTML responses can be framed by any site.", a.missing, a.checked),
			proof:   fmt.Sprintf("%s %s answered %d (text/html) with neither X-Frame-Options nor CSP frame-ancestors", a.first.req.method, s.red.url(a.first.url), a.first.status)})
	case h.frameOther.missing > 0:
		a := h.frameOther
		s.found(hit{rule: "HDR002", ex: a.first, key: "all", override: true, severity: Info,
			message: fmt.Sprintf("%d of %d API responses have no frame protection; none is HTML, so this is defence in depth (info).", a.missing, a.checked),
			proof:   fmt.Sprintf("%s %s answered %d (%s) with neither X-Frame-Options nor CSP frame-ancestors", a.first.req.method, s.red.url(a.first.url), a.first.status, contentType(a.first))})
	}
	switch {
	case !s.hasCreds():
		s.skipped("HDR003", "needs --token or --api-key")
	case h.cache.checked == 0:
		s.skipped("HDR003", "no successful authenticated response to check")
	default:
		s.tested("HDR003")
		if a := h.cache; a.missing > 0 {
			s.found(hit{rule: "HDR003", ex: a.first, key: "all",
				message: fmt.Sprintf("%d of %d successful authenticated responses lack Cache-Control: no-store.", a.missing, a.checked),
				proof:   fmt.Sprintf("%s %s answered %d to an authenticated request with Cache-Control %q", a.first.req.method, s.red.url(a.first.url), a.first.status, a.first.header.Get("Cache-Control"))})
		}
	}
	if s.target.Scheme == "https" {
		if h.hsts.checked == 0 {
			s.skipped("TLS004", "no HTTPS response to check")
		} else {
			s.tested("TLS004")
		}
		if a := h.hsts; a.missing > 0 {
			s.found(hit{rule: "TLS004", ex: a.first, key: "all",
				message: fmt.Sprintf("%d of %d HTTPS responses lack a valid Strict-Transport-Security header.", a.missing, a.checked),
				proof:   fmt.Sprintf("%s %s answered %d with Strict-Transport-Security %q", a.first.req.method, s.red.url(a.first.url), a.first.status, a.first.header.Get("Strict-Transport-Security"))})
		}
	}
}

func contentType(ex *exchange) string {
	if ct := ex.header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err == nil {
			return mt
		}
		return ct
	}
	return "no Content-Type"
}

// versionHeaders lists header lines that disclose software, "Name: value".
var disclosingHeaders = []string{"X-Powered-By", "X-Aspnet-Version", "X-Aspnetmvc-Version", "X-Generator", "X-Powered-Cms"}

var reVersion = regexp.MustCompile(`\d+\.\d+`)

func versionHeaders(h http.Header) []string {
	var out []string
	if v := h.Get("Server"); v != "" && reVersion.MatchString(v) {
		out = append(out, "Server: "+v)
	}
	for _, k := range disclosingHeaders {
		if v := h.Get(k); v != "" {
			out = append(out, k+": "+v)
		}
	}
	return out
}

// versionDisclosure is HDR004, reported once for the target.
func (s *scanner) versionDisclosure(ex *exchange) {
	s.tested("HDR004")
	if s.versionSeen {
		return
	}
	lines := versionHeaders(ex.header)
	if len(lines) == 0 {
		return
	}
	s.versionSeen = true
	s.found(hit{rule: "HDR004", ex: ex, key: "all",
		message: "Response headers name the server software: " + strings.Join(lines, "; ") + ".",
		proof:   strings.Join(lines, "\n")})
}
