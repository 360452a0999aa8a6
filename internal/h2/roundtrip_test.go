package h2

import (
	"io"
	"net/http"
	"testing"
)

func TestGet(t *testing.T) {
	ts := startTLS(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Proto != "HTTP/2.0" || r.ProtoMajor != 2 || r.TLS == nil || r.RemoteAddr == "" {
			t.Errorf("request %+v", r)
		}
		w.Header().Set("X-Path", r.URL.Path)
		io.WriteString(w, "hello "+r.Host)
	})})
	c := h2Client(t)
	resp, err := c.Get(ts.url("/a/b?x=1"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello "+ts.addr || resp.Header.Get("X-Path") != "/a/b" ||
		resp.ContentLength != int64(len(body)) || resp.Header.Get("Date") == "" {
		t.Fatalf("%d %q %v cl=%d", resp.StatusCode, body, resp.Header, resp.ContentLength)
	}
}
