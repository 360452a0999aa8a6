// Package sqlite is the embedded key store: one file, pure Go
// (modernc.org/sqlite, no cgo), nothing to run beside the gateway.
//
// The file is created with mode 0600 (SQLite gives its -wal and -shm files
// the same mode). It runs in WAL mode, so readers — the authenticator's
// cache misses — never wait for a writer, with synchronous=FULL, so a
// revocation that was acknowledged survives a power cut. Writes go through
// one connection and start with BEGIN IMMEDIATE: SQLite allows one writer
// at a time anyway, and taking the write lock up front means a busy
// database is waited for (busy_timeout, 5s) instead of failing a
// read-then-write transaction halfway.
//
// Changes reach this process's subscribers as soon as they commit. Every
// change is also appended to a change log (key_events), which the store reads
// every PollInterval (250ms), so a key revoked by `rampart keys revoke` in
// another process on the same file is seen within a second too. The log
// keeps a day of history.
//
// Schema migrations are embedded and applied by Open with goose.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/rampart-gw/rampart/internal/store"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// MigrationTable records which migrations have been applied.
const MigrationTable = "rampart_schema_migrations"

// eventRetention is how long the change log keeps entries: far longer than
// any poller can fall behind, short enough to stay small.
const eventRetention = 24 * time.Hour

// Store is a store.Store in one SQLite file.
type Store struct {
	store.Common
	path   string
	w      *sql.DB // one connection: every write
	r      *sql.DB // read-only connections
	feed   store.Feed
	poll   time.Duration
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	lastSeq int64          // highest change log entry seen
	local   map[int64]bool // entries this process wrote and published already
	closed  bool
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if needed, mode 0600) the database at path,
// applies pending migrations, and starts watching the change log.
func Open(ctx context.Context, path string, opts store.Options) (*Store, error) {
	common, err := store.NewCommon(opts)
	if err != nil {
		return nil, err
	}
	abs, err := absPath(path)
	if err != nil {
		return nil, err
	}
	if err := create(abs, common); err != nil {
		return nil, err
	}
	s := &Store{Common: common, path: abs, poll: opts.PollInterval, local: map[int64]bool{}, done: make(chan struct{})}
	if s.poll <= 0 {
		s.poll = 250 * time.Millisecond
	}
	// A file: URI, so that any character in the path ('?', '#', '%') is
	// escaped instead of being read as a parameter.
	u := url.URL{Scheme: "file", Path: abs, OmitHost: true}
	base := u.String() + "?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	if s.w, err = sql.Open("sqlite", base+"&_pragma=journal_mode(WAL)&_txlock=immediate"); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		return nil, err
	}
	// Readers are opened after the migration has switched the file to WAL.
	if s.r, err = sql.Open("sqlite", base+"&_pragma=query_only(1)"); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM key_events`).Scan(&s.lastSeq); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: reading the change log: %w", err)
	}
	pollCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.watchLog(pollCtx)
	return s, nil
}

// absPath checks that path names a database file and makes it absolute.
func absPath(path string) (string, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return "", fmt.Errorf("sqlite: %q: give the path of a database file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("sqlite: %w", err)
	}
	return abs, nil
}

// Check checks path without creating, migrating or writing anything
// (`rampart check`). Offline it only checks that path names a file;
// online it also reads an existing database through a read-only connection,
// or, when the file does not exist yet (Open will create it), checks that its
// directory does.
func Check(ctx context.Context, path string, online bool) error {
	abs, err := absPath(path)
	if err != nil || !online {
		return err
	}
	if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
			return fmt.Errorf("sqlite: %s does not exist and its directory cannot hold it", abs)
		}
		return nil
	}
	u := url.URL{Scheme: "file", Path: abs, OmitHost: true}
	db, err := sql.Open("sqlite", u.String()+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: reading %s: %w", abs, err)
	}
	return nil
}

// create makes the database file with mode 0600 unless it exists, and warns
// when an existing file is readable by others.
func create(path string, c store.Common) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("sqlite: creating the database: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("sqlite: %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		c.Logger.Warn("the key store is accessible to other users; chmod 600 it", "path", path, "mode", fi.Mode().Perm().String())
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, sub,
		goose.WithTableName(MigrationTable), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: applying migrations: %w", err)
	}
	return nil
}

// SchemaVersion returns the latest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version_id), 0) FROM `+MigrationTable+` WHERE is_applied`).Scan(&v)
	return v, err
}

// Path is the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close stops the change log watcher, ends Watch channels and closes the
// database. It is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	s.feed.Close()
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// Watch implements store.Store.
func (s *Store) Watch(ctx context.Context) <-chan store.KeyEvent { return s.feed.Subscribe(ctx) }

// Verify implements store.Store.
func (s *Store) Verify(k *store.Key, secret string) bool { return s.Hasher.Verify(k, secret) }

const keyColumns = `id, consumer, hash, scopes, roles, labels, created_at, expires_at, last_used_at, revoked_at, rotated_to`

type scanner interface{ Scan(dest ...any) error }

func scanKey(row scanner) (*store.Key, error) {
	var (
		k                          store.Key
		scopes, roles, labels      string
		created                    int64
		expires, lastUsed, revoked sql.Null[int64]
		rotated                    sql.NullString
	)
	if err := row.Scan(&k.ID, &k.Consumer, &k.Hash, &scopes, &roles, &labels, &created, &expires, &lastUsed, &revoked, &rotated); err != nil {
		return nil, err
	}
	if err := errors.Join(json.Unmarshal([]byte(scopes), &k.Scopes), json.Unmarshal([]byte(roles), &k.Roles),
		json.Unmarshal([]byte(labels), &k.Labels)); err != nil {
		return nil, fmt.Errorf("sqlite: key %s: corrupt row: %w", k.ID, err)
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
	k.CreatedAt = fromMicros(created)
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = fromNull(expires), fromNull(lastUsed), fromNull(revoked)
	k.RotatedTo = rotated.String
	return &k, nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t time.Time) sql.Null[int64] {
	if t.IsZero() {
		return sql.Null[int64]{}
	}
	return sql.Null[int64]{V: t.UnixMicro(), Valid: true}
}

func fromNull(n sql.Null[int64]) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.V)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // []string and map[string]string always encode
	}
	return string(b)
}

// Key implements store.Store.
func (s *Store) Key(ctx context.Context, id string) (*store.Key, error) {
	if !store.ValidID(id) {
		return nil, fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	return s.key(ctx, s.r, id)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) key(ctx context.Context, q querier, id string) (*store.Key, error) {
	k, err := scanKey(q.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading key %s: %w", id, err)
	}
	return k, nil
}

// ListKeys implements store.Store.
func (s *Store) ListKeys(ctx context.Context, opts store.ListOptions) ([]*store.Key, error) {
	q, args := `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`, []any(nil)
	if opts.Consumer != "" {
		q, args = `SELECT `+keyColumns+` FROM api_keys WHERE consumer = ? ORDER BY created_at, id`, []any{opts.Consumer}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing keys: %w", err)
	}
	defer rows.Close()
	out := []*store.Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing keys: %w", err)
	}
	return out, nil
}

// Consumers implements store.Store.
func (s *Store) Consumers(ctx context.Context) ([]store.Consumer, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, created_at FROM consumers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing consumers: %w", err)
	}
	defer rows.Close()
	out := []store.Consumer{}
	for rows.Next() {
		var c store.Consumer
		var created int64
		if err := rows.Scan(&c.Name, &created); err != nil {
			return nil, err
		}
		c.CreatedAt = fromMicros(created)
		out = append(out, c)
	}
	return out, rows.Err()
}

// write runs fn in a write transaction (BEGIN IMMEDIATE) and, once it has
// committed, publishes the events fn logged.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx, log func(id string, kind store.EventKind) error) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer tx.Rollback()
	now := s.Now()
	var events []store.KeyEvent
	var seqs []int64
	log := func(id string, kind store.EventKind) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO key_events (key_id, kind, at) VALUES (?, ?, ?)`, id, string(kind), micros(now))
		if err != nil {
			return err
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return err
		}
		events = append(events, store.KeyEvent{Kind: kind, ID: id})
		seqs = append(seqs, seq)
		return nil
	}
	if err := fn(tx, log); err != nil {
		return err
	}
	if len(events) > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM key_events WHERE at < ?`, micros(now.Add(-eventRetention))); err != nil {
			return fmt.Errorf("sqlite: pruning the change log: %w", err)
		}
	}
	// Marked before the commit, so the poller cannot publish them a second
	// time; unmarked if the commit fails (the numbers may then be reused).
	s.mu.Lock()
	for _, seq := range seqs {
		s.local[seq] = true
	}
	s.mu.Unlock()
	if err := tx.Commit(); err != nil {
		s.mu.Lock()
		for _, seq := range seqs {
			delete(s.local, seq)
		}
		s.mu.Unlock()
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	for _, ev := range events {
		s.feed.Publish(ev)
	}
	return nil
}

// CreateKey implements store.Store.
func (s *Store) CreateKey(ctx context.Context, spec store.KeySpec) (*store.Key, string, error) {
	spec, err := store.ValidateSpec(spec, s.Now())
	if err != nil {
		return nil, "", err
	}
	var (
		k    *store.Key
		full string
	)
	err = s.write(ctx, func(tx *sql.Tx, log func(string, store.EventKind) error) error {
		var err error
		k, full, err = s.insert(ctx, tx, spec, s.Now())
		if err != nil {
			return err
		}
		return log(k.ID, store.EventCreated)
	})
	if err != nil {
		return nil, "", err
	}
	return k, full, nil
}

// insert adds a key for a validated spec, creating its consumer if needed.
func (s *Store) insert(ctx context.Context, tx *sql.Tx, spec store.KeySpec, now time.Time) (*store.Key, string, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO consumers (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
		spec.Consumer, micros(now)); err != nil {
		return nil, "", fmt.Errorf("sqlite: creating consumer: %w", err)
	}
	for attempt := 0; ; attempt++ {
		id, full, sum, err := s.Hasher.Mint()
		if err != nil {
			return nil, "", err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, consumer, hash, scopes, roles, labels, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			id, spec.Consumer, sum, mustJSON(spec.Scopes), mustJSON(spec.Roles), mustJSON(spec.Labels), micros(now), nullMicros(spec.ExpiresAt))
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: inserting key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 { // id collision: ~2^-71 per key
			if attempt == 3 {
				return nil, "", errors.New("sqlite: could not allocate a unique key id")
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
	err = s.write(ctx, func(tx *sql.Tx, log func(string, store.EventKind) error) error {
		now := s.Now()
		var err error
		if old, err = s.key(ctx, tx, id); err != nil {
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
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET expires_at = ?, rotated_to = ? WHERE id = ?`,
			micros(old.ExpiresAt), next.ID, id); err != nil {
			return fmt.Errorf("sqlite: rotating key: %w", err)
		}
		if err := log(id, store.EventRotated); err != nil {
			return err
		}
		return log(next.ID, store.EventCreated)
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
	err := s.write(ctx, func(tx *sql.Tx, log func(string, store.EventKind) error) error {
		var err error
		if k, err = s.key(ctx, tx, id); err != nil {
			return err
		}
		if !k.RevokedAt.IsZero() {
			return nil
		}
		k.RevokedAt = s.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`, micros(k.RevokedAt), id); err != nil {
			return fmt.Errorf("sqlite: revoking key: %w", err)
		}
		return log(id, store.EventRevoked)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// TouchLastUsed implements store.Store.
func (s *Store) TouchLastUsed(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx, _ func(string, store.EventKind) error) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)`)
		if err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		defer stmt.Close()
		for id, at := range used {
			if _, err := stmt.ExecContext(ctx, micros(store.Timestamp(at)), id); err != nil {
				return fmt.Errorf("sqlite: touching key %s: %w", id, err)
			}
		}
		return nil
	})
}

// watchLog publishes the change log entries other processes write.
func (s *Store) watchLog(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.poll)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.readLog(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			s.Logger.Error("key store: reading the change log failed; caches bypassed until it recovers", "error", err)
			s.feed.Publish(store.KeyEvent{Kind: store.EventLost})
		case err == nil && failing:
			failing = false
			s.Logger.Info("key store: reading the change log again")
			s.feed.Publish(store.KeyEvent{Kind: store.EventReset})
		}
	}
}

func (s *Store) readLog(ctx context.Context) error {
	s.mu.Lock()
	after := s.lastSeq
	s.mu.Unlock()
	rows, err := s.r.QueryContext(ctx, `SELECT seq, key_id, kind FROM key_events WHERE seq > ? ORDER BY seq LIMIT 1000`, after)
	if err != nil {
		return err
	}
	defer rows.Close()
	var events []store.KeyEvent
	for rows.Next() {
		var (
			seq      int64
			id, kind string
		)
		if err := rows.Scan(&seq, &id, &kind); err != nil {
			return err
		}
		s.mu.Lock()
		s.lastSeq = max(s.lastSeq, seq)
		mine := s.local[seq]
		delete(s.local, seq)
		s.mu.Unlock()
		if !mine {
			events = append(events, store.KeyEvent{Kind: store.EventKind(kind), ID: id})
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ev := range events {
		s.feed.Publish(ev)
	}
	return nil
}
