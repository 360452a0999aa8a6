package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/headers"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// The recorder counts what io.Copy sends through ReadFrom (the access
// line's bytes and status), and the security headers are applied once,
// before the body, whichever way the response is written.
func TestRecorderCountsEveryWriteAndAppliesTheProfileOnce(t *testing.T) {
	profile, err := headers.Compile(headers.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		write func(w *recorder)
	}{
		{"ReadFrom", func(w *recorder) { _, _ = w.ReadFrom(strings.NewReader("hello")) }},
		{"Write", func(w *recorder) { _, _ = w.Write([]byte("hel")); _, _ = w.Write([]byte("lo")) }},
		{"WriteHeader then ReadFrom", func(w *recorder) {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.ReadFrom(strings.NewReader("hello"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			under := httptest.NewRecorder()
			st := &requestState{info: pipeline.Info{Scheme: "http"}, secure: profile}
			st.rec.ResponseWriter, st.rec.Hook = under, st
			tc.write(&st.rec)
			want := http.StatusOK
			if strings.HasPrefix(tc.name, "WriteHeader") {
				want = http.StatusCreated
			}
			if st.rec.status != want || st.rec.bytes != 5 || under.Body.String() != "hello" {
				t.Fatalf("recorded status %d, %d bytes; sent %q", st.rec.status, st.rec.bytes, under.Body.String())
			}
			if got := under.Header().Get("X-Content-Type-Options"); got != headers.ContentTypeOptions {
				t.Fatalf("X-Content-Type-Options = %q: the profile was not applied", got)
			}
			if st.rec.Hook != nil {
				t.Fatal("the hook is still armed after the header left")
			}
		})
	}
}
