package h1

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// tlsListener returns a TLS listener offering HTTP/1.1 only, the raw
// listener under it (for its address), and a client that trusts its
// certificate (httptest's).
func tlsListener(t *testing.T) (ln, raw net.Listener, client *http.Client) {
	t.Helper()
	ts := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate and client
	t.Cleanup(ts.Close)
	cfg := ts.TLS.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return tls.NewListener(raw, cfg), raw, ts.Client()
}

// TestTLSConnectionState: on a *tls.Conn the request carries its TLS state.
func TestTLSConnectionState(t *testing.T) {
	ln, raw, client := tlsListener(t)
	states := make(chan *tls.ConnectionState, 1)
	serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		states <- r.TLS
		io.WriteString(w, "secure")
	})}, ln)
	resp, err := client.Get("https://" + raw.Addr().String() + "/")
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
