package scan

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

// maxBypassPaths bounds how many protected paths get the variants.
const maxBypassPaths = 2

// checkPaths is PATH001: a path that answers 401/403 directly is asked for
// again in spellings that a path-prefix access check and a normalizing
// router read differently.
func (s *scanner) checkPaths(ctx context.Context) {
	if len(s.protected) == 0 {
		s.skipped("PATH001", "no path answered 401/403 without credentials (nothing to bypass)")
		return
	}
	public := ""
	var publicEx *exchange
	for _, ep := range s.eps {
		if is2xx(ep.unauth) {
			public, _, _ = strings.Cut(ep.target, "?")
			publicEx = ep.unauth
			break
		}
	}
	if public == "" || public == "/" {
		public = "/rampart-scan-public"
	}
	public = strings.TrimRight(public, "/")
	tried := 0
	for _, protected := range s.protected {
		if tried == maxBypassPaths {
			break
		}
		if protected == "/" || strings.Trim(protected, "/") == "" {
			continue
		}
		tried++
		var direct *exchange
		for _, v := range bypassVariants(public, protected) {
			if s.out(ctx) {
				s.partial("PATH001", "request budget exhausted during the path variants")
				return
			}
			s.tested("PATH001")
			ex := s.send(ctx, &request{method: http.MethodGet, target: v.target, kind: kindProbe})
			if !is2xx(ex) || s.isCatchAll(ex) || publicEx != nil && bytes.Equal(ex.body, publicEx.body) {
				continue
			}
			if direct == nil {
				// Confirm the protection still holds for the plain spelling.
				direct = s.send(ctx, &request{method: http.MethodGet, target: protected, kind: kindProbe})
				if !refused(direct) {
					break
				}
			}
			s.found(hit{rule: "PATH001", ex: ex, baseline: direct, key: protected,
				message: fmt.Sprintf("GET %s is refused without credentials (%d), but %s (%s) answered %d.", protected, direct.status, v.target, v.trick, ex.status),
				proof:   fmt.Sprintf("GET %s → %d; GET %s → %d", protected, direct.status, v.target, ex.status)})
			break
		}
	}
	if tried == 0 {
		s.skipped("PATH001", "only the root path is protected")
	}
}

type variant struct{ target, trick string }

// bypassVariants spells protected differently, in the families of Orange
// Tsai's "Breaking Parser Logic" (Black Hat USA 2018).
func bypassVariants(public, protected string) []variant {
	rest := strings.TrimPrefix(protected, "/")
	segs := strings.Split(rest, "/")
	// Climb out of every segment of the public prefix.
	depth := max(1, strings.Count(strings.Trim(public, "/"), "/")+1)
	up := func(seg string) string { return strings.Repeat(seg, depth) }
	out := []variant{
		{public + "/" + up("%2e%2e/") + rest, "encoded dot-segments"},
		{public + "/" + up("..;/") + rest, "\";\" path parameter after \"..\" (Tomcat, Shiro CVE-2020-1957)"},
		{public + "/" + up("..%2f") + rest, "encoded slash after \"..\""},
		{"/%2e/" + rest, "encoded single dot-segment"},
		{"//" + rest, "double slash"},
		{"/" + segs[0] + ";rampart=1" + strings.TrimPrefix(rest, segs[0]), "\";\" path parameter"},
		{protected + ";", "trailing \";\""},
	}
	if len(segs) > 1 {
		out = append(out, variant{"/" + segs[0] + "%2f" + strings.Join(segs[1:], "/"), "encoded slash"})
	}
	if up := strings.ToUpper(protected); up != protected {
		out = append(out, variant{up, "upper case"})
	}
	if r := []rune(rest); len(r) > 0 && unicode.IsLower(r[0]) {
		r[0] = unicode.ToUpper(r[0])
		out = append(out, variant{"/" + string(r), "capitalized"})
	}
	return out
}
