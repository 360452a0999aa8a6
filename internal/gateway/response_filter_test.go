package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/openapi"
)

// usersSpec lists users; the filter's own tests use it too.
func usersSpec(t *testing.T) string {
	p, err := filepath.Abs("../openapi/testdata/stream-filter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const userWithHash = `{"id":1,"name":"ann","password_hash":"$2b$12$abcdefghijklmnopqrstuv","tags":["a"]}`

func startUsers(t *testing.T, mode string, respond http.HandlerFunc) (*gt.Gateway, *gt.Upstream) {
	up := gt.NewUpstream(t, respond)
	extra := fmt.Sprintf("openapi:\n  users: { spec: %q, filter_responses: %s }\n", usersSpec(t), mode)
	routes := "  - { name: api, path: \"/{rest...}\", methods: [GET, POST], upstream: app, auth: none, openapi: users }\n"
	return gt.Start(t, gt.Config(up.URL, extra, routes), nil), up
}

// Issue 15: a list endpoint asked for a big page (5 MiB, above the 1 MiB
// max_response_bytes) used to pass through unfiltered, password hashes
// included.
func TestBigListResponseIsFiltered(t *testing.T) {
	page := "[" + strings.TrimSuffix(strings.Repeat(userWithHash+",", 5<<20/len(userWithHash)), ",") + "]"
	g, _ := startUsers(t, "strip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, page)
	})
	resp, body := g.Get(t, "/users")
	if resp.StatusCode != 200 || len(body) < 2<<20 {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
	}
	if strings.Contains(body, "password_hash") || strings.Contains(body, "$2b$") {
		t.Fatal("password_hash reached the client")
	}
	if !strings.HasPrefix(body, `[{"id":1,"name":"ann","tags":["a"]},{"id":1`) {
		t.Errorf("body starts %.80s", body)
	}
	if logs := g.Logs.String(); !strings.Contains(logs, `"event":"response-stripped"`) || !strings.Contains(logs, "/*/password_hash") {
		t.Errorf("no audit event for the stripped field: %.400s", logs)
	}
}

// Issue 15: in reject mode, an object where the document declares an array
// passed with no event.
func TestRejectModeRefusesWrongType(t *testing.T) {
	g, _ := startUsers(t, "reject", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"users":[{"id":1}]}`)
	})
	resp, body := g.Get(t, "/users")
	gt.CheckProblem(t, resp, body, http.StatusBadGateway, openapi.TypeResponseInvalid)
	if logs := g.Logs.String(); !strings.Contains(logs, `"event":"response-rejected"`) || !strings.Contains(logs, "type the document does not declare") {
		t.Errorf("no audit event for the wrong type: %.600s", logs)
	}
}

// Issue 15: an openapi: entry attached to a route validates requests unless
// the config says validate_requests: false.
func TestRequestsValidatedByDefault(t *testing.T) {
	g, up := startUsers(t, "strip", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	before := up.Count()
	resp, body := g.Get(t, "/users?is_admin=true")
	gt.CheckProblem(t, resp, body, http.StatusBadRequest, openapi.TypeRequestInvalid)
	if up.Count() != before {
		t.Fatal("an unknown query parameter reached the upstream")
	}
}
