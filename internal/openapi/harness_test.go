package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-gw/rampart/internal/h1/h1test"
	"github.com/rampart-gw/rampart/internal/pathnorm"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/proxy"
)

// The tests drive real servers: a client talks HTTP to a front server
// whose handler is the part of the gateway pipeline this package plugs
// into (request info with the canonical path, body buffering as the
// gateway's body step does, this package's middleware, the real proxy) and
// the proxy talks HTTP to an httptest upstream that records every request.
// The gateway package wires the same pieces in the same order; this
// harness exists because the gateway does not accept openapi: yet.

type seen struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

type upstream struct {
	mu      sync.Mutex
	reqs    []seen
	respond http.HandlerFunc
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.reqs = append(u.reqs, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), body})
	u.mu.Unlock()
	if u.respond != nil {
		u.respond(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{}`))
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

func (u *upstream) last() seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.reqs[len(u.reqs)-1]
}

type rejection struct {
	step   string
	status int
	typ    string
	err    error
}

type observer struct {
	mu   sync.Mutex
	rejs []rejection
	evs  []ResponseEvent
}

func (o *observer) Rejected(r *http.Request, step string, rej *pipeline.Rejection) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rejs = append(o.rejs, rejection{step, rej.Status, rej.Type, rej.Err})
}

func (o *observer) response(r *http.Request, ev ResponseEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.evs = append(o.evs, ev)
}

func (o *observer) events() []ResponseEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]ResponseEvent(nil), o.evs...)
}

type harness struct {
	t     *testing.T
	doc   *Document
	up    *upstream
	obs   *observer
	front *h1test.Server
}

func newHarness(t *testing.T, cfg Config, respond http.HandlerFunc) *harness {
	t.Helper()
	doc, err := Load(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	up := &upstream{respond: respond}
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	target, _ := url.Parse(upSrv.URL)
	obs := &observer{}
	px, err := proxy.New(proxy.Config{Name: "upstream", Targets: []*url.URL{target}}, obs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	mw := doc.Middleware(Deps{Observer: obs, OnResponse: obs.response})
	chain := pipeline.Chain(px, bufferBody(1<<20), mw)
	front := h1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rawPath, _, _ := strings.Cut(r.RequestURI, "?")
		p, err := pathnorm.Path(rawPath)
		if err != nil {
			http.Error(w, "bad path", http.StatusBadRequest)
			return
		}
		r = pipeline.WithInfo(r, &pipeline.Info{ID: "req-1", Path: p, Route: "test"})
		chain.ServeHTTP(w, r)
	}))
	return &harness{t: t, doc: doc, up: up, obs: obs, front: front}
}

// bufferBody does what the gateway's body step does before validation.
func bufferBody(max int64) pipeline.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
			if err != nil || int64(len(body)) > max {
				http.Error(w, "too large", http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			r.ContentLength = int64(len(body))
			if len(body) == 0 {
				r.Body, r.GetBody = http.NoBody, nil
			}
			next.ServeHTTP(w, r)
		})
	}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) problem() (typ, detail string) {
	var p struct{ Type, Detail string }
	_ = json.Unmarshal(r.body, &p)
	return strings.TrimPrefix(p.Type, pipeline.TypePrefix), p.Detail
}

// do sends a request. header is "Name: value" lines.
func (h *harness) do(method, target, contentType, body string, header ...string) reply {
	h.t.Helper()
	req, err := http.NewRequest(method, h.front.URL+target, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body == "" {
		req.Body = nil
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, hv := range header {
		k, v, _ := strings.Cut(hv, ": ")
		req.Header.Add(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}
