package h1

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// serveOnce serves one GET with h on a new server and returns when the
// response has been read (so the handler has returned).
func serveOnce(t *testing.T, srv *Server) {
	t.Helper()
	addr := serve(t, srv)
	c, br := dial(t, addr)
	write(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if status, body := readResponse(t, br); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
}

// Contexts derived from a request's context (context.WithTimeout,
// context.AfterFunc) end when the handler returns, as under net/http; a
// stopped AfterFunc never runs.
func TestDerivedRequestContextsEndWithTheHandler(t *testing.T) {
	derived := make(chan context.Context, 1)
	ran := make(chan string, 2)
	stopped := make(chan bool, 1)
	serveOnce(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Hour)
		_ = cancel // ended by the request's end, not here
		select {
		case <-ctx.Done():
			panic("derived context done while the handler runs")
		default:
		}
		context.AfterFunc(r.Context(), func() { ran <- "kept" })
		stop := context.AfterFunc(r.Context(), func() { ran <- "stopped" })
		stopped <- stop()
		derived <- ctx
	})})
	if !<-stopped {
		t.Fatal("stop() before the end reported false")
	}
	ctx := <-derived
	<-ctx.Done()
	if ctx.Err() != context.Canceled {
		t.Fatalf("derived context ended with %v, want context.Canceled", ctx.Err())
	}
	if got := <-ran; got != "kept" {
		t.Fatalf("AfterFunc %q ran", got)
	}
	select {
	case got := <-ran:
		t.Fatalf("AfterFunc %q ran after it was stopped", got)
	default:
	}
}

// An AfterFunc registered once the request ended runs at once, and
// stopping it then reports false.
func TestAfterFuncOnAnEndedRequestContext(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	serveOnce(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ctxs <- r.Context() })})
	ctx := <-ctxs
	<-ctx.Done()
	ran := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(ran) })
	<-ran
	if stop() {
		t.Fatal("stop() after f ran reported true")
	}
}

// A request's context takes one value in place (pipeline.WithInfo uses it
// to avoid a request copy), keeps the connection's values, and refuses a
// second one.
func TestRequestContextSetValue(t *testing.T) {
	type key struct{}
	type other struct{}
	errs := make(chan string, 1)
	serveOnce(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := r.Context().(interface{ SetValue(key, val any) bool })
		switch {
		case !ok:
			errs <- "the request context takes no value"
		case s.SetValue(nil, 1):
			errs <- "a nil key was taken"
		case !s.SetValue(key{}, "info"):
			errs <- "SetValue refused the first value"
		case s.SetValue(other{}, "second"):
			errs <- "SetValue took a second value"
		case r.Context().Value(key{}) != "info" || r.Context().Value(other{}) != nil:
			errs <- "Value does not see the value set"
		case r.Context().Value(http.LocalAddrContextKey) == nil:
			errs <- "the connection's values are lost"
		default:
			errs <- ""
		}
	})})
	if e := <-errs; e != "" {
		t.Fatal(e)
	}
}

// Under a connection context that can be canceled, requests get
// context.WithCancel: canceled with the connection's, and after the
// handler.
func TestCancelableConnContext(t *testing.T) {
	type key struct{}
	ctxs := make(chan context.Context, 1)
	serveOnce(t, &Server{
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			ctx, cancel := context.WithCancel(context.WithValue(ctx, key{}, "conn"))
			_ = cancel
			return ctx
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := r.Context().(*requestContext); ok || r.Context().Value(key{}) != "conn" {
				panic("a cancelable connection context was not kept")
			}
			ctxs <- r.Context()
		}),
	})
	ctx := <-ctxs
	<-ctx.Done()
}
