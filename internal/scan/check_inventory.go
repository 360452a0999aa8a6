package scan

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// wellKnown is one path from the bounded inventory list. match says whether
// a 2xx body really is what the path is known to hold; nil means any body
// that differs from the target's answer to a path that cannot exist.
type wellKnown struct {
	path     string
	severity Severity
	what     string
	match    func(body []byte) bool
	spec     bool // may be an OpenAPI document
}

func contains(subs ...string) func([]byte) bool {
	return func(b []byte) bool {
		for _, s := range subs {
			if bytes.Contains(b, []byte(s)) {
				return true
			}
		}
		return false
	}
}

func matches(re string) func([]byte) bool {
	r := regexp.MustCompile(re)
	return r.Match
}

var reEnvLine = regexp.MustCompile(`(?m)^[A-Z][A-Z0-9_]{1,64}=`)

// wellKnownPaths is the inventory list, in probe order. Keep it short: every
// entry is a request to someone's server.
var wellKnownPaths = []wellKnown{
	{"/.env", High, "an environment file (typically database passwords and API secrets)", func(b []byte) bool {
		return !bytes.Contains(bytes.ToLower(b), []byte("<html")) && reEnvLine.Match(b)
	}, false},
	{"/.git/config", High, "the Git repository's config (the source code is likely downloadable)", contains("[core]"), false},
	{"/actuator/env", High, "Spring Boot's environment endpoint (configuration and secrets)", contains(`"propertySources"`, `"activeProfiles"`), false},
	{"/actuator", Medium, "Spring Boot actuator index", contains(`"_links"`), false},
	{"/debug/pprof/", Medium, "Go's pprof profiling endpoints (memory, goroutines, command line)", contains("Types of profiles available", "goroutine"), false},
	{"/debug/vars", Medium, "Go's expvar endpoint (command line, memory statistics)", contains(`"memstats"`, `"cmdline"`), false},
	{"/server-status", Medium, "Apache's server status page (clients, requests in flight)", contains("Apache Server Status", "Server Version:"), false},
	{"/phpinfo.php", Medium, "phpinfo() output (configuration, environment)", contains("PHP Version", "phpinfo()"), false},
	{"/elmah.axd", Medium, "ELMAH error log (exceptions with request data)", contains("Error Log for"), false},
	{"/trace.axd", Medium, "ASP.NET trace viewer (recent requests with their data)", contains("Application Trace"), false},
	{"/console", Medium, "an interactive or admin console", nil, false},
	{"/admin", Medium, "an admin interface", nil, false},
	{"/debug", Medium, "a debug endpoint", nil, false},
	{"/metrics", Low, "Prometheus metrics (routes, internals, sometimes user data in labels)", matches(`(?m)^# (?:HELP|TYPE) \w+`), false},
	{"/.DS_Store", Low, "a macOS folder index (lists file names)", contains("Bud1"), false},
	{"/openapi.json", Info, "an API description", contains(`"openapi"`, `"swagger"`), true},
	{"/openapi.yaml", Info, "an API description", matches(`(?m)^(?:openapi|swagger):`), true},
	{"/swagger.json", Info, "an API description", contains(`"openapi"`, `"swagger"`), true},
	{"/v3/api-docs", Info, "an API description (springdoc)", contains(`"openapi"`), true},
	{"/v2/api-docs", Info, "an API description (springfox)", contains(`"swagger"`), true},
	{"/api-docs", Info, "an API description", contains(`"openapi"`, `"swagger"`), true},
	{"/docs", Info, "interactive API documentation", contains("swagger-ui", "redoc", "Swagger UI"), false},
}

// checkInventory is INV001; it also learns the catch-all answer and may
// discover an OpenAPI document when none was given.
func (s *scanner) checkInventory(ctx context.Context) {
	s.catchAll = s.send(ctx, &request{method: http.MethodGet, target: "/rampart-scan-does-not-exist-7c1e2f", kind: kindProbe})
	probed := 0
	for _, w := range wellKnownPaths {
		if s.out(ctx) {
			s.partial("INV001", fmt.Sprintf("request budget exhausted after %d of %d well-known paths", probed, len(wellKnownPaths)))
			break
		}
		if s.documented(w.path) {
			continue
		}
		probed++
		ex := s.send(ctx, &request{method: http.MethodGet, target: w.path, kind: kindInventory})
		if ex == nil || ex.status < 200 || ex.status > 299 || len(bytes.TrimSpace(ex.body)) == 0 {
			continue
		}
		if w.match != nil && !w.match(ex.body) || s.isCatchAll(ex) {
			continue
		}
		if w.spec && s.api == nil {
			if api, err := ParseOpenAPI(ex.body); err == nil {
				s.useAPI(api, s.red.url(ex.url))
				s.note("no --openapi given: using the OpenAPI document found at " + s.red.url(ex.url))
				if s.prefix == "" {
					s.prefix = api.ServerPath
				}
			}
		}
		msg := fmt.Sprintf("%s answers %d with %s", w.path, ex.status, w.what)
		if s.api != nil {
			msg += "; the OpenAPI document does not declare it"
		}
		proof := fmt.Sprintf("GET %s → %d, %d bytes of %s", w.path, ex.status, len(ex.body), contentType(ex))
		s.found(hit{rule: "INV001", ex: ex, override: true, severity: w.severity, bodyAt: "*", message: msg + ".", proof: proof})
	}
	if probed > 0 {
		s.tested("INV001")
	}
}

// documented reports whether the OpenAPI document declares path.
func (s *scanner) documented(path string) bool {
	if s.api == nil {
		return false
	}
	for _, op := range s.api.Operations {
		if strings.TrimRight(s.api.ServerPath+op.Path, "/") == strings.TrimRight(path, "/") {
			return true
		}
	}
	return false
}

// isCatchAll reports whether ex looks like the target's answer to any
// path (a single-page app's index, a "200 not found" JSON).
func (s *scanner) isCatchAll(ex *exchange) bool {
	ca := s.catchAll
	if ca == nil || ca.status < 200 || ca.status > 299 {
		return false
	}
	if ca.status != ex.status {
		return false
	}
	strip := func(e *exchange) []byte {
		path, _, _ := strings.Cut(e.req.target, "?")
		return bytes.ReplaceAll(e.body, []byte(path), nil)
	}
	return bytes.Equal(strip(ca), strip(ex))
}
