package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pathnorm"
	"github.com/rampart-gw/rampart/internal/route"
)

// forwardFixture is a gateway (in process) in front of a real upstream that
// records the raw request-target it received.
type forwardFixture struct {
	gw   *Gateway
	mu   sync.Mutex
	last string
}

func newForwardFixture(tb testing.TB) *forwardFixture {
	f := &forwardFixture{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.last = r.RequestURI
		f.mu.Unlock()
	}))
	tb.Cleanup(up.Close)
	yaml := `version: 1
admin: { listen: "off" }
upstreams:
  app: { targets: ["` + up.URL + `"] }
routes:
  - { name: item, path: "/api/items/{id}", methods: [GET], upstream: app, auth: none }
  - { name: notes, path: "/api/{kind}/{id}/notes", methods: [GET], upstream: app, auth: none }
  - { name: all, path: "/{rest...}", methods: [GET], upstream: app, auth: none }
`
	cfg, err := config.Parse("fuzz.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		tb.Fatal(err)
	}
	gw, err := New(cfg, Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(gw.Close)
	f.gw = gw
	return f
}

// FuzzForwardedPath asserts the gateway's central promise about paths: the
// path the upstream receives is exactly the canonical path the router
// matched, whatever the client sent.
func FuzzForwardedPath(f *testing.F) {
	for _, s := range []string{"/api/items/42", "/api/./items/%34%32", "//api//x/../items/1", "/a%2fb", "/%2e%2e/",
		"/files/r%c3%a9sum%c3%a9", "/a/%7euser", "/api/items/a;b", "/a?b=c", "/x/..", "/%41%42%43", "/a[b]{c}|d^e`f"} {
		f.Add(s)
	}
	fx := newForwardFixture(f)
	f.Fuzz(func(t *testing.T, target string) {
		if target == "" || target[0] != '/' || strings.ContainsAny(target, " \r\n\t\x00#") {
			return // not something a request line can carry
		}
		rawPath, _, _ := strings.Cut(target, "?")
		req := httptest.NewRequest("GET", "http://example.test/", nil)
		req.RequestURI = target
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http refuses these before any handler runs
		}
		req.URL = u
		rec := httptest.NewRecorder()
		fx.mu.Lock()
		fx.last = ""
		fx.mu.Unlock()
		fx.gw.ServeHTTP(rec, req)

		canonical, perr := pathnorm.Path(rawPath)
		fx.mu.Lock()
		got := fx.last
		fx.mu.Unlock()
		gotPath, _, _ := strings.Cut(got, "?")
		if perr != nil {
			if rec.Code != http.StatusBadRequest || got != "" {
				t.Fatalf("%q: rejected path got status %d and upstream saw %q", target, rec.Code, got)
			}
			return
		}
		if rec.Code != http.StatusOK {
			return // refused for another reason (query): nothing forwarded
		}
		if gotPath != canonical {
			t.Fatalf("%q: routed %q but forwarded %q", target, canonical, gotPath)
		}
		// And the forwarded path routes to the same place when re-normalized.
		again, err := pathnorm.Path(gotPath)
		if err != nil || again != gotPath {
			t.Fatalf("forwarded path %q is not canonical: %q, %v", gotPath, again, err)
		}
		var p1, p2 route.Params
		if a, b := fx.gw.router.Match("example.test", "GET", canonical, &p1), fx.gw.router.Match("example.test", "GET", gotPath, &p2); a != b {
			t.Fatalf("route differs: %+v vs %+v", a, b)
		}
	})
}
