package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/gateway"
	"github.com/rampart-gw/rampart/internal/keystore"
	"github.com/rampart-gw/rampart/internal/tlsconfig"
)

func check(args []string, env Env, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr)
	path := fs.String("c", "rampart.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadAndCompile(*path, env)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d routes, %d upstreams)\n", *path, len(cfg.Routes), len(cfg.Upstreams))
	return 0
}

// loadAndCompile loads the config and compiles a gateway from it without
// serving, so check refuses exactly what serve would refuse.
func loadAndCompile(path string, env Env) (*config.Config, error) {
	cfg, err := config.Load(path, env)
	if err != nil {
		return nil, err
	}
	// The key store is opened (and migrated) like serve does, so an
	// unreachable PostgreSQL or an unwritable SQLite path fails check.
	keys, err := keystore.OpenIfUsed(context.Background(), cfg, discardLogger())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if keys != nil {
		defer keys.Close()
	}
	gw, err := gateway.New(cfg, gateway.Deps{Logger: discardLogger(), Keys: keys})
	if err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	gw.Close()
	if cfg.Server.TLS != nil {
		// Load the certificate now: a missing or mismatched pair must fail
		// check, not the first handshake.
		if _, err := tlsconfig.New(cfg.Server.TLS, discardLogger()); err != nil {
			return nil, fmt.Errorf("%s: server.tls: %w", path, err)
		}
	}
	return cfg, nil
}
