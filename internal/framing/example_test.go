package framing_test

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"

	"github.com/rampart-gw/rampart/internal/framing"
)

func ExampleNewListener() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reason, ok := framing.Rejected(r); ok {
			w.Header().Set("Connection", "close")
			http.Error(w, reason, http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			// errors.Is(err, framing.ErrBadChunk) for a malformed chunked
			// body; the connection is closed either way.
			reason := "unreadable body"
			if errors.Is(err, framing.ErrBadChunk) {
				reason = framing.ReasonBadChunk
			}
			w.Header().Set("Connection", "close")
			http.Error(w, reason, http.StatusBadRequest)
			return
		}
		_ = body // forward upstream
	})
	srv := &http.Server{Handler: handler, MaxHeaderBytes: 16 << 10}
	go srv.Serve(framing.NewListener(ln, 16<<10))
	srv.Close()
}
