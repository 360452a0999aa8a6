package pipeline

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rampart-gw/rampart/internal/h1"
)

// infoHandler reports whether WithInfo returned r itself, and whether the
// info reached the request's context and a second WithInfo replaced it.
func infoHandler(sameRequest chan<- bool, t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		first, second := &Info{ID: "first"}, &Info{ID: "second"}
		r2 := WithInfo(r, first)
		if InfoFrom(r2.Context()) != first {
			t.Error("the info is not in the request's context")
		}
		// A second one (a re-entered gateway) wins, through a copy.
		if r3 := WithInfo(r2, second); InfoFrom(r3.Context()) != second || r3 == r2 {
			t.Error("a second WithInfo did not replace the first")
		}
		sameRequest <- r2 == r
	}
}

// Under internal/h1 the info goes into the request's own context: no
// request copy and no context per request.
func TestWithInfoUnderH1TakesNoCopy(t *testing.T) {
	same := make(chan bool, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &h1.Server{Handler: infoHandler(same, t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !<-same {
		t.Fatal("WithInfo copied the request under h1")
	}
}

// Under net/http (HTTP/2 and tests) WithInfo derives a context, as before.
func TestWithInfoUnderNetHTTP(t *testing.T) {
	same := make(chan bool, 1)
	infoHandler(same, t).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if <-same {
		t.Fatal("WithInfo returned the request it was given")
	}
}
