// Package keystore opens the API-key store a config names, only when an
// api_key authenticator needs it (a gateway without API keys never touches
// a database).
package keystore

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/backend"
)

// Used reports whether cfg has an api_key authenticator.
func Used(cfg *config.Config) bool {
	for _, a := range cfg.Authenticators {
		if a.Type == "api_key" {
			return true
		}
	}
	return false
}

// OpenIfUsed opens cfg.Store when Used(cfg), else returns nil, nil. New
// connections to PostgreSQL are bounded by store_timeout.
func OpenIfUsed(ctx context.Context, cfg *config.Config, logger *slog.Logger) (store.Store, error) {
	if !Used(cfg) {
		return nil, nil
	}
	s, err := backend.Open(ctx, cfg.Store, store.Options{Logger: logger, ConnectTimeout: cfg.StoreTimeout})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return s, nil
}
