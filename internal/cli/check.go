package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/gateway"
	"github.com/rampart-gw/rampart/internal/keystore"
	"github.com/rampart-gw/rampart/internal/ratelimit/backend"
	"github.com/rampart-gw/rampart/internal/store"
	storebackend "github.com/rampart-gw/rampart/internal/store/backend"
	"github.com/rampart-gw/rampart/internal/tlsconfig"
)

// onlineTimeout bounds the connections and fetches of check --online.
const onlineTimeout = 30 * time.Second

func check(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr)
	path := fs.String("c", "rampart.yaml", "config file")
	online := fs.Bool("online", false, "also fetch OIDC discovery documents, JWKS and remote OpenAPI specs, and connect to the store and shared_state (read-only)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path, env)
	if err != nil {
		printErrors(stderr, *path, err)
		return 1
	}
	if *online {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, onlineTimeout)
		defer cancel()
	}
	gw, err := compile(ctx, cfg, *online)
	if err != nil {
		printErrors(stderr, cfg.File, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d routes, %d upstreams)\n", *path, gw.Routes(), len(cfg.Upstreams))
	for _, name := range gw.Unfetched() {
		fmt.Fprintf(stdout, "%s: the remote spec of openapi %q was not fetched, so it is not checked and routes generated from it are not counted: run check --online to fetch it\n", *path, name)
	}
	return 0
}

// compile builds everything cfg names the way serve would, and returns the
// (closed) gateway, for its counts. Offline it writes nothing and uses no
// network: the store and shared_state URLs are checked for syntax, key files,
// local OpenAPI documents and the TLS pair are loaded, and nothing is
// fetched. Online it also fetches discovery documents, JWKS and remote specs,
// and connects to the store and Redis without changing them (a missing
// SQLite file is not created).
func compile(ctx context.Context, cfg *config.Config, online bool) (*gateway.Gateway, error) {
	var errs []error
	deps := gateway.Deps{Logger: discardLogger(), Offline: !online}
	if keystore.Used(cfg) {
		if err := storebackend.Check(ctx, cfg.Store, online); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
		deps.Keys = unopenedStore{}
	}
	// Opening a Redis backend parses its URL and does not connect.
	if rl, err := backend.Open(cfg.SharedState, cfg.SharedStateFailure, cfg.SharedStateTimeout, discardLogger()); err != nil {
		errs = append(errs, fmt.Errorf("shared_state: %w", err))
	} else {
		if online {
			if err := rl.Ping(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shared_state: %w", err))
			}
		}
		_ = rl.Close()
	}
	gw, err := gateway.New(cfg, deps)
	if err != nil {
		errs = append(errs, err)
	} else {
		gw.Close()
	}
	if cfg.Server.TLS != nil {
		// Load the certificate now: a missing or mismatched pair must fail
		// check, not the first handshake.
		if _, err := tlsconfig.New(cfg.Server.TLS, discardLogger()); err != nil {
			errs = append(errs, fmt.Errorf("server.tls: %w", err))
		}
	}
	return gw, errors.Join(errs...)
}

// unopenedStore stands in for the key store when check compiles api_key
// authenticators: the gateway is never served, so nothing but the change
// feed subscription (apikey.New) is ever asked of it.
type unopenedStore struct{ store.Store }

func (unopenedStore) Watch(ctx context.Context) <-chan store.KeyEvent {
	ch := make(chan store.KeyEvent)
	context.AfterFunc(ctx, func() { close(ch) })
	return ch
}

// printErrors writes each problem on its own line as file:line:col: message,
// once. Problems found after parsing may have no position (a store that does
// not answer): they are reported at 1:1 of file.
func printErrors(w io.Writer, file string, err error) {
	var walk func(error)
	walk = func(err error) {
		var ce *config.Error
		switch e := err.(type) {
		case config.Errors:
			for _, x := range e {
				walk(x)
			}
			return
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
			return
		case *config.Error:
			ce = e
		default:
			ce = &config.Error{File: file, Line: 1, Col: 1, Msg: err.Error()}
		}
		// A message may span lines (an OpenAPI document's problems): each
		// line carries the position.
		for _, line := range strings.Split(ce.Msg, "\n") {
			fmt.Fprintf(w, "%s:%d:%d: %s\n", ce.File, ce.Line, ce.Col, line)
		}
	}
	walk(err)
}
