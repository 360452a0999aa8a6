package h2_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// xnetImpl is the reference: golang.org/x/net/http2's Server.ServeConn,
// configured to advertise what h2.Server specifies (defaults, windows).
var xnetImpl = impl{
	name:   "xnet",
	strict: false,
	start: func(t *testing.T, cfg serverConfig) *testServer {
		return serveTLS(t, newXnet(cfg))
	},
	newBackend: func(cfg serverConfig) backend { return newXnet(cfg) },
}

// xnetBackend adapts http2.Server to the h2.Server surface. Graceful
// shutdown in x/net goes through an http.Server that ConfigureServer hooked
// (RegisterOnShutdown); Shutdown then waits for the ServeConn calls.
type xnetBackend struct {
	h2   *http2.Server
	base *http.Server
	opts *http2.ServeConnOpts

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newXnet(cfg serverConfig) *xnetBackend {
	h2s := &http2.Server{
		MaxConcurrentStreams:         cfg.MaxConcurrentStreams,
		MaxReadFrameSize:             cfg.MaxReadFrameSize,
		IdleTimeout:                  cfg.IdleTimeout,
		WriteByteTimeout:             cfg.WriteTimeout,
		MaxUploadBufferPerConnection: 1 << 20,
		MaxUploadBufferPerStream:     256 << 10,
	}
	if h2s.MaxConcurrentStreams == 0 {
		h2s.MaxConcurrentStreams = 100
	}
	if h2s.MaxReadFrameSize == 0 {
		h2s.MaxReadFrameSize = 16384
	}
	base := &http.Server{
		Handler:        cfg.Handler,
		MaxHeaderBytes: cfg.MaxHeaderBytes,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	if base.MaxHeaderBytes == 0 {
		base.MaxHeaderBytes = 1 << 20
	}
	if err := http2.ConfigureServer(base, h2s); err != nil {
		panic(err)
	}
	return &xnetBackend{
		h2:    h2s,
		base:  base,
		opts:  &http2.ServeConnOpts{Handler: cfg.Handler, BaseConfig: base},
		conns: map[net.Conn]struct{}{},
	}
}

func (x *xnetBackend) ServeConn(ctx context.Context, c net.Conn) {
	x.mu.Lock()
	x.conns[c] = struct{}{}
	x.wg.Add(1)
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		delete(x.conns, c)
		x.mu.Unlock()
		x.wg.Done()
	}()
	opts := *x.opts
	opts.Context = ctx
	x.h2.ServeConn(c, &opts)
	c.Close()
}

func (x *xnetBackend) Shutdown(ctx context.Context) error {
	// Sends GOAWAY on every conn ConfigureServer knows; returns at once
	// since base tracks no conns of its own.
	if err := x.base.Shutdown(ctx); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { x.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		x.Close()
		<-done
		return ctx.Err()
	}
}

func (x *xnetBackend) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	for c := range x.conns {
		c.Close()
	}
	return nil
}
