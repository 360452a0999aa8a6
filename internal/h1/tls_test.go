package h1

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestTLSConnectionState: on a *tls.Conn the request carries its TLS state.
func TestTLSConnectionState(t *testing.T) {
	ts := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate and client
	defer ts.Close()
	cfg := ts.TLS.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	states := make(chan *tls.ConnectionState, 1)
	serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		states <- r.TLS
		io.WriteString(w, "secure")
	})}, tls.NewListener(raw, cfg))
	resp, err := ts.Client().Get("https://" + raw.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	st := <-states
	if string(body) != "secure" || st == nil || !st.HandshakeComplete || resp.TLS == nil {
		t.Fatalf("body %q, state %+v", body, st)
	}
}
