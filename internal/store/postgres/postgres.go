// Package postgres is the key store for fleets: every replica points at the
// same PostgreSQL database (pgx, a connection pool, the extended query
// protocol for every statement that carries a value).
//
// Revocations and rotations reach every replica through LISTEN/NOTIFY: each
// change sends a notification inside its own transaction, so it is delivered
// exactly when the change commits, and each Store holds one extra connection
// that listens. That connection is checked whenever it has been quiet for
// PingInterval (5s) and re-established with backoff when it fails. While it
// is down the feed says EventLost, so authenticators stop trusting their
// caches and ask the database for every request; after it is back the feed
// says EventReset (notifications sent meanwhile are lost), so they drop what
// they cached. Either way a revoked key stops working everywhere within a
// second, as long as the database itself answers.
//
// The notification channel is derived from the database and schema, so
// several Rampart deployments (or test runs) can share one server under
// different schemas (search_path in the URL) without seeing each other.
//
// Schema migrations are embedded and applied by Open with goose, under a
// PostgreSQL advisory lock, so replicas starting together migrate once.
package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/rampart-gw/rampart/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// MigrationTable records which migrations have been applied.
const MigrationTable = "rampart_schema_migrations"

// ListenerApplicationName prefixes the application_name of the listening
// connection (followed by the channel), so operators can tell it apart in
// pg_stat_activity.
const ListenerApplicationName = "rampart-listener"

// Store is a store.Store in a PostgreSQL database.
type Store struct {
	store.Common
	pool     *pgxpool.Pool
	listenTo *pgx.ConnConfig
	channel  string
	ping     time.Duration
	feed     store.Feed
	cancel   context.CancelFunc
	done     chan struct{}

	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// parseURL parses a store URL into a pool config, refusing what Open refuses.
func parseURL(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: the store URL does not parse: %w", err)
	}
	if cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol {
		return nil, errors.New("postgres: default_query_exec_mode=simple_protocol is refused: values must travel as parameters (extended protocol)")
	}
	return cfg, nil
}

// Check checks url without migrating or writing anything (`rampart
// check`): offline, that it parses as Open needs; online, also that the
// database accepts a connection and answers a ping.
func Check(ctx context.Context, url string, online bool) error {
	cfg, err := parseURL(url)
	if err != nil || !online {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return fmt.Errorf("postgres: connecting: %w", err)
	}
	defer conn.Close(context.Background())
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// Open connects to the database named by url (postgres://…), applies
// pending migrations and starts listening for changes. url may carry any
// libpq/pgx parameter (sslmode, search_path, pool_max_conns, …) except
// default_query_exec_mode=simple_protocol. Errors never repeat the URL's
// password.
func Open(ctx context.Context, url string, opts store.Options) (*Store, error) {
	common, err := store.NewCommon(opts)
	if err != nil {
		return nil, err
	}
	cfg, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if cfg.ConnConfig.ConnectTimeout == 0 { // the URL's connect_timeout wins
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "rampart"
	}
	s := &Store{Common: common, ping: opts.PingInterval, done: make(chan struct{})}
	if s.ping <= 0 {
		s.ping = 5 * time.Second
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: connecting: %w", err)
	}
	var db, schema string
	if err := s.pool.QueryRow(ctx, `SELECT current_database(), coalesce(current_schema(), '')`).Scan(&db, &schema); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if schema == "" {
		s.pool.Close()
		return nil, errors.New("postgres: no schema to create tables in: the search_path names no existing schema")
	}
	sum := sha256.Sum256([]byte(db + "\x00" + schema))
	s.channel = "rampart_keys_" + hex.EncodeToString(sum[:8])
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	s.listenTo = cfg.ConnConfig.Copy()
	s.listenTo.RuntimeParams["application_name"] = ListenerApplicationName + " " + s.channel
	conn, err := s.listen(ctx)
	if err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: listening for key changes: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(lctx, conn)
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithTableName(MigrationTable),
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: applying migrations: %w", err)
	}
	return nil
}

// SchemaVersion returns the latest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM `+MigrationTable+` WHERE is_applied`).Scan(&v)
	return v, err
}

// Channel is the NOTIFY channel this store listens on.
func (s *Store) Channel() string { return s.channel }

// Close stops listening, ends Watch channels and closes the pool.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		s.feed.Close()
		s.pool.Close()
	})
	return nil
}

// Watch implements store.Store.
func (s *Store) Watch(ctx context.Context) <-chan store.KeyEvent { return s.feed.Subscribe(ctx) }

// Verify implements store.Store.
func (s *Store) Verify(k *store.Key, secret string) bool { return s.Hasher.Verify(k, secret) }

const keyColumns = `id, consumer, hash, scopes, roles, labels, created_at, expires_at, last_used_at, revoked_at, coalesce(rotated_to, '')`

func scanKey(row pgx.Row) (*store.Key, error) {
	var (
		k                          store.Key
		expires, lastUsed, revoked *time.Time
	)
	if err := row.Scan(&k.ID, &k.Consumer, &k.Hash, &k.Scopes, &k.Roles, &k.Labels, &k.CreatedAt, &expires, &lastUsed, &revoked, &k.RotatedTo); err != nil {
		return nil, err
	}
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	if k.Roles == nil {
		k.Roles = []string{}
	}
	if k.Labels == nil {
		k.Labels = map[string]string{}
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = utc(expires), utc(lastUsed), utc(revoked)
	return &k, nil
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Key implements store.Store.
func (s *Store) Key(ctx context.Context, id string) (*store.Key, error) {
	if !store.ValidID(id) {
		return nil, fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	return key(ctx, s.pool, id, "")
}

type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func key(ctx context.Context, q queryer, id, suffix string) (*store.Key, error) {
	k, err := scanKey(q.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`+suffix, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading key %s: %w", id, err)
	}
	return k, nil
}

// ListKeys implements store.Store.
func (s *Store) ListKeys(ctx context.Context, opts store.ListOptions) ([]*store.Key, error) {
	// One statement with a parameter either way: '' matches every consumer.
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE ($1 = '' OR consumer = $1) ORDER BY created_at, id`, opts.Consumer)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing keys: %w", err)
	}
	defer rows.Close()
	out := []*store.Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: listing keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing keys: %w", err)
	}
	return out, nil
}

// Consumers implements store.Store.
func (s *Store) Consumers(ctx context.Context) ([]store.Consumer, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, created_at FROM consumers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing consumers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Consumer, error) {
		var c store.Consumer
		err := row.Scan(&c.Name, &c.CreatedAt)
		c.CreatedAt = c.CreatedAt.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: listing consumers: %w", err)
	}
	if out == nil {
		out = []store.Consumer{}
	}
	return out, nil
}

// write runs fn in a transaction; notify sends a change notification that
// PostgreSQL delivers when (and only if) the transaction commits.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx, notify func(id string, kind store.EventKind) error) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		notify := func(id string, kind store.EventKind) error {
			if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, string(kind)+":"+id); err != nil {
				return fmt.Errorf("postgres: notify: %w", err)
			}
			return nil
		}
		return fn(tx, notify)
	})
}

// CreateKey implements store.Store.
func (s *Store) CreateKey(ctx context.Context, spec store.KeySpec) (*store.Key, string, error) {
	now := s.Now()
	spec, err := store.ValidateSpec(spec, now)
	if err != nil {
		return nil, "", err
	}
	var (
		k    *store.Key
		full string
	)
	err = s.write(ctx, func(tx pgx.Tx, notify func(string, store.EventKind) error) error {
		var err error
		if k, full, err = s.insert(ctx, tx, spec, now); err != nil {
			return err
		}
		return notify(k.ID, store.EventCreated)
	})
	if err != nil {
		return nil, "", err
	}
	return k, full, nil
}

func (s *Store) insert(ctx context.Context, tx pgx.Tx, spec store.KeySpec, now time.Time) (*store.Key, string, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO consumers (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, spec.Consumer, now); err != nil {
		return nil, "", fmt.Errorf("postgres: creating consumer: %w", err)
	}
	for attempt := 0; ; attempt++ {
		id, full, sum, err := s.Hasher.Mint()
		if err != nil {
			return nil, "", err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO api_keys (id, consumer, hash, scopes, roles, labels, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
			id, spec.Consumer, sum, spec.Scopes, spec.Roles, spec.Labels, now, nullTime(spec.ExpiresAt))
		if err != nil {
			return nil, "", fmt.Errorf("postgres: inserting key: %w", err)
		}
		if tag.RowsAffected() == 0 { // id collision: ~2^-71 per key
			if attempt == 3 {
				return nil, "", errors.New("postgres: could not allocate a unique key id")
			}
			continue
		}
		return &store.Key{ID: id, Consumer: spec.Consumer, Scopes: spec.Scopes, Roles: spec.Roles, Labels: spec.Labels,
			CreatedAt: now, ExpiresAt: spec.ExpiresAt, Hash: sum}, full, nil
	}
}

// RotateKey implements store.Store.
func (s *Store) RotateKey(ctx context.Context, id string, grace time.Duration) (old, next *store.Key, full string, err error) {
	if grace < 0 || grace > store.MaxGrace {
		return nil, nil, "", fmt.Errorf("%w: grace must be between 0 and %v", store.ErrInvalid, store.MaxGrace)
	}
	if !store.ValidID(id) {
		return nil, nil, "", fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	err = s.write(ctx, func(tx pgx.Tx, notify func(string, store.EventKind) error) error {
		now := s.Now()
		var err error
		if old, err = key(ctx, tx, id, " FOR UPDATE"); err != nil {
			return err
		}
		switch {
		case !old.RevokedAt.IsZero():
			return fmt.Errorf("key %s: %w", id, store.ErrRevoked)
		case old.RotatedTo != "":
			return fmt.Errorf("key %s: %w (its successor is %s)", id, store.ErrRotated, old.RotatedTo)
		}
		if next, full, err = s.insert(ctx, tx, store.Successor(old, now), now); err != nil {
			return err
		}
		old.ExpiresAt, old.RotatedTo = store.GraceEnd(old, now, grace), next.ID
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET expires_at = $1, rotated_to = $2 WHERE id = $3`, old.ExpiresAt, next.ID, id); err != nil {
			return fmt.Errorf("postgres: rotating key: %w", err)
		}
		if err := notify(id, store.EventRotated); err != nil {
			return err
		}
		return notify(next.ID, store.EventCreated)
	})
	if err != nil {
		return nil, nil, "", err
	}
	return old, next, full, nil
}

// RevokeKey implements store.Store.
func (s *Store) RevokeKey(ctx context.Context, id string) (*store.Key, error) {
	if !store.ValidID(id) {
		return nil, fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	var k *store.Key
	err := s.write(ctx, func(tx pgx.Tx, notify func(string, store.EventKind) error) error {
		var err error
		if k, err = key(ctx, tx, id, " FOR UPDATE"); err != nil {
			return err
		}
		if !k.RevokedAt.IsZero() {
			return nil
		}
		k.RevokedAt = s.Now()
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2`, k.RevokedAt, id); err != nil {
			return fmt.Errorf("postgres: revoking key: %w", err)
		}
		return notify(id, store.EventRevoked)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// TouchLastUsed implements store.Store: one statement for the whole batch.
func (s *Store) TouchLastUsed(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	ids := make([]string, 0, len(used))
	ats := make([]time.Time, 0, len(used))
	for id, at := range used {
		ids = append(ids, id)
		ats = append(ats, store.Timestamp(at))
	}
	_, err := s.pool.Exec(ctx, `UPDATE api_keys AS k SET last_used_at = u.at
		FROM unnest($1::text[], $2::timestamptz[]) AS u (id, at)
		WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`, ids, ats)
	if err != nil {
		return fmt.Errorf("postgres: recording key use: %w", err)
	}
	return nil
}

// listen opens the listening connection. LISTEN and the health checks go
// through ExecParams, the extended protocol, like everything else.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.listenTo)
	if err != nil {
		return nil, err
	}
	if _, err := conn.PgConn().ExecParams(ctx, `LISTEN `+pgx.Identifier{s.channel}.Sanitize(), nil, nil, nil, nil).Close(); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// run delivers notifications to the feed, re-establishing the listening
// connection when it fails.
func (s *Store) run(ctx context.Context, conn *pgx.Conn) {
	defer close(s.done)
	const maxBackoff = 5 * time.Second
	backoff := 50 * time.Millisecond
	for {
		if conn == nil {
			var err error
			if conn, err = s.listen(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.Logger.Warn("key store: the change listener cannot reconnect; retrying", "error", err, "in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, maxBackoff)
				continue
			}
			backoff = 50 * time.Millisecond
			s.Logger.Info("key store: the change listener is back; caches are flushed")
		}
		// Notifications sent before this point (while nobody listened, or
		// before Open returned) may be lost: caches start over.
		s.feed.Publish(store.KeyEvent{Kind: store.EventReset})
		err := s.receive(ctx, conn)
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx)
		cancel()
		conn = nil
		if ctx.Err() != nil {
			return
		}
		s.Logger.Error("key store: the change listener lost its connection; caches are bypassed until it is back", "error", err)
		s.feed.Publish(store.KeyEvent{Kind: store.EventLost})
	}
}

// receive returns when conn fails or ctx ends.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, s.ping)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			s.dispatch(n)
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !pgconn.Timeout(err):
			return err
		}
		// Quiet for a while: make sure the connection still works (a
		// server that vanished without closing the TCP connection would
		// otherwise leave us waiting forever).
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = conn.PgConn().ExecParams(pctx, `SELECT 1`, nil, nil, nil, nil).Close()
		cancel()
		if err != nil {
			return fmt.Errorf("health check: %w", err)
		}
	}
}

func (s *Store) dispatch(n *pgconn.Notification) {
	if n == nil || n.Channel != s.channel {
		return
	}
	kind, id, ok := strings.Cut(n.Payload, ":")
	switch store.EventKind(kind) {
	case store.EventCreated, store.EventRevoked, store.EventRotated:
	default:
		ok = false
	}
	if !ok || !store.ValidID(id) {
		s.Logger.Warn("key store: ignoring a malformed change notification", "channel", n.Channel)
		return
	}
	s.feed.Publish(store.KeyEvent{Kind: store.EventKind(kind), ID: id})
}
