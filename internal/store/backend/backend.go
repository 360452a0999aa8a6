// Package backend opens the key store a config's `store:` URL names. It is
// separate from package store because it imports both implementations,
// which import store.
//
//	s, err := backend.Open(ctx, cfg.Store, store.Options{Logger: logger})
//	defer s.Close()
package backend

import (
	"context"
	"errors"
	"strings"

	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/postgres"
	"github.com/rampart-gw/rampart/internal/store/sqlite"
)

// Open opens the store at url: sqlite://PATH (PATH relative to the working
// directory; sqlite:///abs/path for an absolute one) or postgres://… /
// postgresql://…. Errors never repeat the URL, which may hold a password.
func Open(ctx context.Context, url string, opts store.Options) (store.Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		return sqlite.Open(ctx, strings.TrimPrefix(url, "sqlite://"), opts)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url, opts)
	}
	return nil, errBadURL
}

// Check checks the store at url for `rampart check` without creating,
// migrating or writing anything: offline, the URL's syntax; online, also that
// the database answers (read-only). See sqlite.Check and postgres.Check.
func Check(ctx context.Context, url string, online bool) error {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		return sqlite.Check(ctx, strings.TrimPrefix(url, "sqlite://"), online)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Check(ctx, url, online)
	}
	return errBadURL
}

var errBadURL = errors.New("store: the URL must start with sqlite://, postgres:// or postgresql://")
