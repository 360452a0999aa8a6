// Package store holds Rampart's API keys and the consumers they belong to:
// the Key and Consumer types, the Store interface that the SQLite
// (store/sqlite, the embedded default) and PostgreSQL (store/postgres, for
// fleets of replicas) implementations share, the key format, how secrets are
// hashed, and the change feed that carries revocations and rotations to every
// authenticator's cache.
//
// A key is `rk_<id>_<secret>`: a recognisable prefix (so secret scanners find
// leaked keys), a public 12-character id (so a key is found by index, never by
// scanning), and a 43-character secret carrying 256 bits from crypto/rand,
// both base62. Only an HMAC-SHA-256 of the id and secret is stored (keyed by
// the optional server-side pepper); the full key exists in exactly one place,
// the response to the request that created it. Because the secret has 256
// bits of entropy, one fast keyed hash is enough: a slow password hash
// (argon2id) would add nothing against guessing and cost milliseconds on every
// request.
//
// Each implementation applies its versioned, embedded schema migrations at
// Open, so an empty database becomes a current one and a current one is left
// alone.
//
// Example:
//
//	s, err := backend.Open(ctx, "sqlite://rampart.db", store.Options{})
//	k, full, err := s.CreateKey(ctx, store.KeySpec{Consumer: "acme", Scopes: []string{"items:read"}})
//	fmt.Println(full) // rk_…; show it once, it cannot be recovered
package store

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Errors every implementation returns (wrapped) so callers can branch with
// errors.Is.
var (
	ErrNotFound = errors.New("store: no such key")
	ErrInvalid  = errors.New("store: invalid input")
	// ErrRevoked: the operation needs a key that is not revoked (rotation).
	ErrRevoked = errors.New("store: key is revoked")
	// ErrRotated: the key was already rotated; rotate its successor instead.
	ErrRotated = errors.New("store: key was already rotated")
)

// Consumer is who a key belongs to: a partner, a service, a team. It becomes
// the Subject of the principal a key authenticates as. Consumers are created
// implicitly with their first key.
type Consumer struct {
	Name      string
	CreatedAt time.Time
}

// Key is a stored API key. It never holds the secret: Hash is the keyed hash
// of the id and secret, which only Store.Verify interprets. Zero times mean
// "never" (no expiry, never used, not revoked).
type Key struct {
	ID         string
	Consumer   string
	Scopes     []string          // never nil
	Roles      []string          // never nil
	Labels     map[string]string // never nil
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero = does not expire; set to the end of the grace period by rotation
	LastUsedAt time.Time // coarse: updated in batches, at most about once a minute
	RevokedAt  time.Time
	// RotatedTo is the id of the key that replaced this one ("" if not
	// rotated). A rotated key works until ExpiresAt (the grace period).
	RotatedTo string
	Hash      []byte // HMAC-SHA-256 verifier; never printed or serialised
}

// Usable reports whether k authenticates at now: not revoked and not expired.
func (k *Key) Usable(now time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

// Status is k's state at now: "revoked", "expired", "rotated" (in its grace
// period) or "active".
func (k *Key) Status(now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return "expired"
	case k.RotatedTo != "":
		return "rotated"
	}
	return "active"
}

// KeySpec describes a key to create.
type KeySpec struct {
	Consumer  string            // required; see ValidateConsumer
	Scopes    []string          // optional; RFC 6749 scope tokens
	Roles     []string          // optional; no commas or spaces
	Labels    map[string]string // optional free-form metadata (team, ticket, environment)
	ExpiresAt time.Time         // zero = never; must be in the future
}

// ListOptions filters ListKeys. The zero value lists every key.
type ListOptions struct {
	Consumer string // only this consumer's keys
}

// EventKind is what happened to a key (or to the feed itself).
type EventKind string

const (
	EventCreated EventKind = "created"
	EventRevoked EventKind = "revoked"
	EventRotated EventKind = "rotated" // ID is the old key, whose expiry changed
	// EventReset says that events may have been missed and every cached key
	// must be dropped; the feed is live again. PostgreSQL sends it after each
	// (re)connection of its listener.
	EventReset EventKind = "reset"
	// EventLost says that the feed lost contact with the database: until the
	// next EventReset, changes made elsewhere may go unseen, so caches must
	// not be trusted.
	EventLost EventKind = "lost"
)

// KeyEvent is one change on the feed.
type KeyEvent struct {
	Kind EventKind
	ID   string // the key concerned; "" for EventReset and EventLost
}

// Store holds keys and consumers. Implementations are safe for concurrent use.
type Store interface {
	// CreateKey mints a key for spec and returns its record and the full key
	// `rk_<id>_<secret>`, which is returned nowhere else, ever.
	CreateKey(ctx context.Context, spec KeySpec) (*Key, string, error)
	// Key returns the key with id, or ErrNotFound.
	Key(ctx context.Context, id string) (*Key, error)
	// ListKeys returns keys ordered by creation time, oldest first.
	ListKeys(ctx context.Context, opts ListOptions) ([]*Key, error)
	// Consumers returns every consumer, ordered by name.
	Consumers(ctx context.Context) ([]Consumer, error)
	// RotateKey issues a successor of key id for the same consumer, with the
	// same scopes, roles and labels (and, if the old key expires, the same
	// lifetime counted from now), and limits the old key to grace from now
	// (0 ends it at once). It returns the updated old key, the new key and
	// the new full key. A revoked key gives ErrRevoked, a rotated one
	// ErrRotated.
	RotateKey(ctx context.Context, id string, grace time.Duration) (old, next *Key, full string, err error)
	// RevokeKey revokes key id at once and returns it. Revoking a revoked key
	// changes nothing and is not an error.
	RevokeKey(ctx context.Context, id string) (*Key, error)
	// TouchLastUsed records when keys were last used; a time older than the
	// stored one is ignored, and unknown ids are skipped.
	TouchLastUsed(ctx context.Context, used map[string]time.Time) error
	// Watch returns a feed of key changes, from this process and (for stores
	// shared by several processes) from the others, until ctx is done, when
	// the channel is closed. A subscriber that falls behind receives
	// EventReset instead of the events it missed.
	Watch(ctx context.Context) <-chan KeyEvent
	// Verify reports, in constant time, whether secret is k's secret.
	Verify(k *Key, secret string) bool
	// Close releases the store. Watch channels are closed.
	Close() error
}

// Options configure any Store implementation.
type Options struct {
	// Pepper is an optional server-side secret keying the stored hashes
	// (>= 32 bytes). With it, someone who can write to the database still
	// cannot mint a key that verifies. Changing it invalidates every key.
	// nil = a fixed, public key (the hash is then an unkeyed SHA-256 HMAC).
	Pepper []byte
	// Now is the clock used for created_at, revoked_at and rotation grace
	// (nil = time.Now).
	Now func() time.Time
	// Logger receives operational messages (listener reconnects). nil
	// discards them.
	Logger *slog.Logger
	// PollInterval (SQLite) is how often the change log is read for changes
	// made by other processes (the CLI); default 250ms.
	PollInterval time.Duration
	// PingInterval (PostgreSQL) is how long the change listener waits for a
	// notification before checking that its connection is alive; default 5s.
	PingInterval time.Duration
	// ConnectTimeout (PostgreSQL) bounds opening one connection, unless the
	// URL sets connect_timeout: without it, a hung server holds a new
	// connection (and what waits for it) until the kernel gives up.
	// 0 = no bound beyond the caller's context.
	ConnectTimeout time.Duration
}

// Common holds what both implementations derive from Options.
type Common struct {
	Hasher Hasher
	Now    func() time.Time // returns UTC, truncated to microseconds
	Logger *slog.Logger
}

// NewCommon checks opts and fills in defaults.
func NewCommon(opts Options) (Common, error) {
	h, err := NewHasher(opts.Pepper)
	if err != nil {
		return Common{}, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return Common{Hasher: h, Now: func() time.Time { return Timestamp(now()) }, Logger: logger}, nil
}

// Timestamp normalises t as both databases store it: UTC, microseconds.
func Timestamp(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Successor returns the record of the key that replaces old at now: same
// consumer, scopes, roles and labels; the same lifetime if old expires.
func Successor(old *Key, now time.Time) KeySpec {
	spec := KeySpec{Consumer: old.Consumer, Scopes: old.Scopes, Roles: old.Roles, Labels: old.Labels}
	if !old.ExpiresAt.IsZero() {
		if life := old.ExpiresAt.Sub(old.CreatedAt); life > 0 {
			spec.ExpiresAt = now.Add(life)
		}
	}
	return spec
}

// GraceEnd is when a key rotated at now with grace stops working: now+grace,
// or its own expiry if that comes first.
func GraceEnd(old *Key, now time.Time, grace time.Duration) time.Time {
	end := now.Add(grace)
	if !old.ExpiresAt.IsZero() && old.ExpiresAt.Before(end) {
		return old.ExpiresAt
	}
	return end
}

// MaxGrace bounds the rotation grace period.
const MaxGrace = 365 * 24 * time.Hour
