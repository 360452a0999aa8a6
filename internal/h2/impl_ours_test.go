package h2_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/rampart-gw/rampart/internal/h2"
)

func init() { impls = append(impls, oursImpl) }

var oursImpl = impl{
	name:   "ours",
	strict: true,
	start: func(t *testing.T, cfg serverConfig) *testServer {
		return serveTLS(t, newOurs(cfg))
	},
	newBackend: func(cfg serverConfig) backend { return newOurs(cfg) },
}

func newOurs(cfg serverConfig) *h2.Server {
	var w io.Writer = io.Discard
	if os.Getenv("H2_TEST_LOG") == "1" {
		w = os.Stderr
	}
	return &h2.Server{
		Handler:              cfg.Handler,
		MaxConcurrentStreams: cfg.MaxConcurrentStreams,
		MaxReadFrameSize:     cfg.MaxReadFrameSize,
		MaxHeaderBytes:       cfg.MaxHeaderBytes,
		IdleTimeout:          cfg.IdleTimeout,
		WriteTimeout:         cfg.WriteTimeout,
		Logger:               slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// *h2.Server must have the surface the tests drive.
var _ backend = (*h2.Server)(nil)
