package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// sqlLeak is what a Flask API answers when a quote reaches its SQL: the
// database's own error, which tells an attacker the injection works.
const sqlLeak = `{"error": "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near ''' at line 1"}`

// answering starts a gateway with the waf policy in front of an upstream
// that answers every request with status, content type and body.
func answering(t *testing.T, policy string, status int, ctype, body string) (*gt.Gateway, *gt.Upstream) {
	t.Helper()
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	return gt.Start(t, gt.Config(up.URL, "waf:\n  crs: "+policy+"\n", wafRoutes), nil), up
}

func TestWAFWithholdsAnswersThatLeak(t *testing.T) {
	g, up := answering(t, "{ inspect_responses: true }", 400, "application/json", sqlLeak)
	logged := len(g.Logs.String())
	resp, body := g.Get(t, "/users/1")
	p := gt.CheckProblem(t, resp, body, http.StatusBadGateway, "response-blocked")
	if up.Count() != 1 {
		t.Fatalf("the upstream saw %d requests, want 1", up.Count())
	}
	if strings.Contains(body, "SQL syntax") || strings.Contains(p.Detail, "951") {
		t.Errorf("the answer's content or the rule reached the client: %s", body)
	}
	ev := auditEvent(t, g.Logs.String()[logged:], "rejected")
	e := fmt.Sprint(ev["error"])
	if ev["reason"] != "response-blocked" || !strings.Contains(e, "(response)") || !strings.Contains(e, "rules 951") || !strings.Contains(e, "RESPONSE_BODY") {
		t.Errorf("audit event does not say which response rules matched: %v", ev)
	}
	if strings.Contains(e, "SQL syntax") || strings.Contains(e, "excerpt") {
		t.Errorf("audit event carries the leaked data: %s", e)
	}
	if got := up.Seen()[0].Header.Get("Accept-Encoding"); got != "" {
		t.Errorf("the upstream was asked for %q: a compressed answer could not be inspected", got)
	}
}

func TestWAFAnswersPassUnchanged(t *testing.T) {
	legit := `{"id": 1, "name": "Siobhán O'Brien", "bio": "Select the best option; drop me a line at siobhan@example.ie", "tags": ["sql", "union"]}`
	for _, tc := range []struct{ name, policy, ctype, body string }{
		{"legitimate JSON", "{ inspect_responses: true }", "application/json", legit},
		{"binary body, header inspected only", "{ inspect_responses: true }", "application/octet-stream", sqlLeak},
		{"responses not inspected", "{}", "application/json", sqlLeak},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := answering(t, tc.policy, 200, tc.ctype, tc.body)
			resp, body := g.Get(t, "/users/1")
			if resp.StatusCode != 200 || body != tc.body || resp.Header.Get("Content-Type") != tc.ctype {
				t.Fatalf("answer changed: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		})
	}
}

func TestWAFDetectModeReportsLeakingAnswers(t *testing.T) {
	g, _ := answering(t, "{ inspect_responses: true, mode: detect }", 400, "application/json", sqlLeak)
	logged := len(g.Logs.String())
	resp, body := g.Get(t, "/users/1")
	if resp.StatusCode != 400 || body != sqlLeak {
		t.Fatalf("detect mode changed the answer: %d %s", resp.StatusCode, body)
	}
	ev := auditEvent(t, g.Logs.String()[logged:], "waf_detected")
	if ev["would_block"] != true || ev["side"] != "response" || ev["excerpt"] != nil {
		t.Errorf("event = %v", ev)
	}
}

// A body larger than max_response_bytes is decided on its first
// max_response_bytes: a leak there is withheld; the rest streams through
// uninspected and intact.
func TestWAFLargeAnswersAreDecidedOnTheirStart(t *testing.T) {
	filler := strings.Repeat(`{"item": "plain text that matches nothing"},`, 200) // ~8.8 KiB
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"leak in the inspected start", `[` + sqlLeak + `,` + filler + `{}]`, http.StatusBadGateway},
		{"leak past the inspected start", `[` + filler + sqlLeak + `]`, http.StatusOK},
		{"no leak", `[` + filler + filler + `{}]`, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := answering(t, "{ inspect_responses: true, max_response_bytes: 4KiB }", 200, "application/json", tc.body)
			resp, body := g.Get(t, "/items")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, tc.status, body)
			}
			if tc.status == 200 && body != tc.body {
				t.Fatalf("body changed: got %d bytes, want %d", len(body), len(tc.body))
			}
		})
	}
}

// An answer whose body is held back and then cut by the upstream must not
// reach the client as a complete answer.
func TestWAFHeldAnswerCutByTheUpstreamIsAborted(t *testing.T) {
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"partial": "`)
		panic(http.ErrAbortHandler)
	})
	g := gt.Start(t, gt.Config(up.URL, "waf:\n  crs: { inspect_responses: true }\n", wafRoutes), nil)
	req, _ := http.NewRequest("GET", g.URL+"/items", nil)
	resp, err := gt.Client().Do(req)
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil && resp.StatusCode == 200 {
			t.Fatalf("a cut answer arrived complete: %q", b)
		}
	}
}

// Coraza's copy of a body counts against the body memory budget: a body
// that fits the budget once but not twice is refused on a WAF route (503,
// retry later) and taken on a route without one.
func TestWAFBodyCopyCountsAgainstTheBudget(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	routes := wafRoutes + "  - { name: plain, path: \"/plain\", methods: [POST], upstream: app, auth: none }\n"
	extra := "server: { body_buffer_bytes: 64KiB, body_memory_budget: 64KiB }\nwaf:\n  crs: {}\n"
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	body := `{"notes": "` + strings.Repeat("plain words here ", 2400) + `"}` // ~40 KiB
	if resp, answer := sendJSON(t, g, "POST", "/plain", body); resp.StatusCode != 200 {
		t.Fatalf("without a WAF: %d %s", resp.StatusCode, answer)
	}
	before := up.Count()
	resp, answer := sendJSON(t, g, "POST", "/things", body)
	gt.CheckProblem(t, resp, answer, http.StatusServiceUnavailable, "body-budget-exhausted")
	if up.Count() != before {
		t.Fatal("the upstream saw a refused request")
	}
}
