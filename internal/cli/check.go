package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/auth/jwt"
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
	strict := fs.Bool("strict", false, "with --online, an identity provider that does not answer is an error, not a warning")
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
	gw, warnings, err := compile(ctx, cfg, *online, *strict)
	if warnings != nil {
		printErrors(stderr, cfg.File, warnings)
	}
	if err != nil {
		printErrors(stderr, cfg.File, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%s, %s)\n", *path, count(gw.Routes(), "route"), count(len(cfg.Upstreams), "upstream"))
	for _, name := range slices.Sorted(maps.Keys(cfg.OpenAPI)) {
		fmt.Fprintf(stdout, "%s: openapi %s: %s\n", *path, name, cfg.OpenAPI[name].Summary())
	}
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
// SQLite file is not created). An identity provider that does not answer is
// a warning (serve starts without it, and its routes answer 503 until it
// does) unless strict; one that answers with unusable documents is an error.
func compile(ctx context.Context, cfg *config.Config, online, strict bool) (gw *gateway.Gateway, warnings, err error) {
	var errs, warns []error
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
	gw, err = gateway.New(cfg, deps)
	if err != nil {
		errs = append(errs, err)
	} else {
		for _, name := range slices.Sorted(maps.Keys(cfg.Authenticators)) {
			if j := cfg.Authenticators[name].JWT; j != nil {
				for _, w := range j.Warnings() {
					warns = append(warns, cfg.ErrorAt(fmt.Errorf("warning: authenticator %q: %s", name, w), "authenticators", name))
				}
			}
		}
		failed := gw.WaitKeys(ctx)
		for _, name := range slices.Sorted(maps.Keys(failed)) {
			err := failed[name]
			if !strict && !errors.Is(err, jwt.ErrKeysInvalid) {
				warns = append(warns, cfg.ErrorAt(fmt.Errorf("warning: authenticator %q: %w (serve starts anyway; its routes answer 503 until the IdP answers; --strict makes this an error)", name, err), "authenticators", name))
				continue
			}
			errs = append(errs, cfg.ErrorAt(fmt.Errorf("authenticator %q: %w", name, err), "authenticators", name))
		}
		warns = append(warns, gw.Shadows()...)
		for _, name := range slices.Sorted(maps.Keys(cfg.OpenAPI)) {
			if doc := gw.Document(name); doc != nil {
				for _, w := range doc.Warnings() { // legal and enforced, probably not meant (duplicate required)
					warns = append(warns, cfg.ErrorAt(fmt.Errorf("warning: %s", w.Error()), "openapi", name, "spec"))
				}
				for _, w := range doc.EmptiedErrorResponses() {
					warns = append(warns, cfg.ErrorAt(fmt.Errorf("warning: openapi %q: %s", name, w), "openapi", name))
				}
			}
		}
		gw.Close()
	}
	if cfg.Server.TLS != nil {
		// Load the certificate now: a missing or mismatched pair must fail
		// check, not the first handshake.
		if _, err := tlsconfig.New(cfg.Server.TLS, discardLogger()); err != nil {
			errs = append(errs, fmt.Errorf("server.tls: %w", err))
		}
	}
	return gw, errors.Join(warns...), errors.Join(errs...)
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

// count is "1 route" or "2 routes".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
