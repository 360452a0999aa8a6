package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/rampart-gw/rampart/internal/config"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/server"
)

// chromium finds the browser, or skips the test (fails under CI, where
// .ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" || os.Getenv("RAMPART_REQUIRE_SERVICES") == "1" {
		t.Fatal("chromium is required (CI / RAMPART_REQUIRE_SERVICES=1) but not installed: apt-get install chromium")
	}
	t.Skip("SKIPPED LOUDLY: chromium is not installed (apt-get install chromium); the dashboard's browser test did not run")
	return ""
}

// TestDashboardInBrowser drives the dashboard in a real headless Chromium:
// log in, watch live numbers move under traffic, see a refused request in
// the event stream within 2 s, block its client from the offenders page,
// log out. With RAMPART_SCREENSHOTS=DIR it saves a PNG of each page there
// (docs/dashboard/ holds the committed ones).
func TestDashboardInBrowser(t *testing.T) {
	bin := chromium(t)
	up := gt.NewUpstream(t, nil)
	g := gt.StartConfig(t, parse(t, gt.Config(up.URL, "", `  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: none }
  - { name: item, path: "/api/items/{id}", methods: [GET], upstream: app, auth: none }
`)), func(o *server.Options) { o.Replica = "test-replica" })

	// Background traffic: served requests and a trickle of refusals.
	stop := make(chan struct{})
	var traffic sync.WaitGroup
	traffic.Add(1)
	go func() {
		defer traffic.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			path := "/api/items"
			switch i % 5 {
			case 3:
				path = "/api/items/" + strconv.Itoa(i)
			case 4:
				path = "/nope"
			}
			if resp, err := http.Get(g.URL + path); err == nil {
				resp.Body.Close()
			}
		}
	}()
	t.Cleanup(func() { close(stop); traffic.Wait() })

	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1000)) // chromedp gives it a fresh --user-data-dir, removed when it exits
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 180*time.Second)
	defer cancelTimeout()

	// Any script error (a CSP refusal included) fails the test.
	var jsErrors gt.SyncBuffer
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			fmt.Fprintf(&jsErrors, "exception: %s\n", ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				fmt.Fprintf(&jsErrors, "console.error: %v\n", ev.Args)
			}
		}
	})
	shots := os.Getenv("RAMPART_SCREENSHOTS")
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			if shots == "" {
				return nil
			}
			var png []byte
			if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v (script errors: %s)", what, err, jsErrors.String())
		}
	}

	// Not logged in: the overview sends the browser to the login page.
	var loc string
	run("open the overview", chromedp.Navigate(g.AdminURL+"/dashboard/overview"), chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.Location(&loc))
	if !strings.HasSuffix(loc, "/dashboard/login") {
		t.Fatalf("without login the overview went to %s", loc)
	}
	run("screenshot the login page", shot("login"))
	run("log in", chromedp.SendKeys("#token", g.AdminToken, chromedp.ByID), chromedp.Submit("#token", chromedp.ByID),
		chromedp.WaitVisible("#rps", chromedp.ByID))

	// Live numbers move while traffic flows.
	total := func() int {
		var s string
		run("read the request count", chromedp.Text("#total", &s, chromedp.ByID))
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		return n
	}
	first := waitFor(t, 10*time.Second, "a request count above 0", func() (int, bool) { n := total(); return n, n > 0 })
	waitFor(t, 10*time.Second, "the request count to grow", func() (int, bool) { n := total(); return n, n > first })
	run("wait for the plots and the route table",
		chromedp.WaitVisible("#plot-traffic .uplot", chromedp.ByQuery), chromedp.WaitVisible("#routes tbody tr", chromedp.ByQuery))
	run("screenshot the overview", shot("overview"))

	// A refused request shows up in the event stream within 2 s.
	run("open the events page", chromedp.Navigate(g.AdminURL+"/dashboard/events"),
		chromedp.WaitVisible("#events", chromedp.ByID), waitText("#status", "live"))
	resp, err := http.Get(g.URL + "/refused-on-purpose")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 404 || id == "" {
		t.Fatalf("refused request: %d, id %q", resp.StatusCode, id)
	}
	sent := time.Now()
	waitFor(t, 2*time.Second, "the refused request in the event stream", func() (string, bool) {
		var s string
		run("read the events", chromedp.Text("#events tbody", &s, chromedp.ByQuery))
		return s, strings.Contains(s, id)
	})
	t.Logf("refused request shown after %v", time.Since(sent).Round(time.Millisecond))
	// Paused, the table stops re-rendering under the click.
	run("filter the events and open one", chromedp.SendKeys("#filter", "route-not-found", chromedp.ByID),
		chromedp.Click("#pause", chromedp.ByID), chromedp.Click(`tr.event`, chromedp.ByQuery),
		chromedp.WaitVisible("#event-details", chromedp.ByID))
	run("screenshot the events page", shot("events"))

	// Block the offending client from the offenders page.
	run("open the offenders page", chromedp.Navigate(g.AdminURL+"/dashboard/offenders"),
		chromedp.WaitVisible(`#off-clients button.block[data-subject="127.0.0.1"]:enabled`, chromedp.ByQuery))
	run("block 127.0.0.1", chromedp.Click(`#off-clients button.block[data-subject="127.0.0.1"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#blocks button.unblock[data-subject="127.0.0.1"]`, chromedp.ByQuery))
	// The real block table (detect and respond): the client's next request
	// is refused before routing.
	resp, body := g.Get(t, "/api/items")
	gt.CheckProblem(t, resp, body, http.StatusForbidden, "client-blocked")
	if !strings.Contains(g.Logs.String(), `"event":"dashboard-block"`) {
		t.Error("the block was not audited")
	}
	run("screenshot the offenders page", shot("offenders"))
	run("unblock 127.0.0.1", chromedp.Click(`#blocks button.unblock[data-subject="127.0.0.1"]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`#blocks button.unblock[data-subject="127.0.0.1"]`, chromedp.ByQuery))
	if resp, body := g.Get(t, "/api/items"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after unblocking: %d %s", resp.StatusCode, body)
	}

	run("open the config page", chromedp.Navigate(g.AdminURL+"/dashboard/config"), waitText("#config", `"routes"`))
	var cfgText string
	run("read the config", chromedp.Text("#config", &cfgText, chromedp.ByID))
	if strings.Contains(cfgText, g.AdminToken) || !strings.Contains(cfgText, "********") {
		t.Errorf("the config page shows the admin token, or masks nothing")
	}
	run("screenshot the config page", shot("config"))

	// Log out: the session is gone on the server, so the API answers 401.
	var status int
	run("log out", chromedp.Click("#logout", chromedp.ByID), chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.Evaluate(`fetch("/dashboard/api/summary").then(r => r.status)`, &status, awaitPromise))
	if status != 401 {
		t.Errorf("API after logout: %d, want 401", status)
	}
	if e := jsErrors.String(); e != "" {
		t.Errorf("script errors in the pages:\n%s", e)
	}
}

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("dashboard.yaml", []byte(text), func(k string) (string, bool) { return gt.AdminToken, k == "ADMIN_TOKEN" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// waitText waits until sel's text contains want.
func waitText(sel, want string) chromedp.Action {
	var ok bool
	return chromedp.Poll(fmt.Sprintf(`((document.querySelector(%q)||{}).textContent||"").includes(%q)`, sel, want), &ok,
		chromedp.WithPollingTimeout(10*time.Second))
}

// waitFor polls check until it reports done or the deadline passes.
func waitFor[T any](t *testing.T, within time.Duration, what string, check func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v, ok := check()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last seen: %v", within, what, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
