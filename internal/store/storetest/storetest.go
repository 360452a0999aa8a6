// Package storetest is the contract every store.Store implementation passes:
// the same tests, run against SQLite (a temp file) and PostgreSQL (a fresh
// schema), so the two cannot drift apart.
//
// An implementation's test calls Run with a function that prepares an empty
// database for one subtest and says how to open it and how to read back
// everything it holds at rest:
//
//	storetest.Run(t, func(t *testing.T) storetest.Harness {
//		path := filepath.Join(t.TempDir(), "keys.db")
//		return storetest.Harness{
//			Open: func(t *testing.T, opts store.Options) store.Store { … sqlite.Open(ctx, path, opts) … },
//			Dump: func(t *testing.T) []byte { … the file and its WAL … },
//			…
//		}
//	})
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rampart-gw/rampart/internal/store"
)

// Harness is one empty database, prepared for one subtest.
type Harness struct {
	// Open opens a store on the database; every call opens the same
	// database (a second call is a second process or replica). The store
	// must be closed when t ends.
	Open func(t *testing.T, opts store.Options) store.Store
	// Dump returns everything the database holds at rest: the file and its
	// WAL, or every row of every table in text form.
	Dump func(t *testing.T) []byte
	// SchemaVersion returns the latest migration applied to the database.
	SchemaVersion func(t *testing.T) int64
	// LatestVersion is the newest migration the implementation embeds.
	LatestVersion int64
}

// Clock is a settable clock for store.Options.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Epoch is where test clocks start: a fixed instant with a sub-microsecond
// part, which stores must truncate the same way.
var Epoch = time.Date(2030, 1, 2, 3, 4, 5, 678901234, time.UTC)

// Run runs the contract against fresh databases made by newHarness.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"migrations from empty, then idempotent", testMigrations},
		{"create returns the key once and stores its record", testCreate},
		{"invalid specs are refused", testCreateInvalid},
		{"list filters by consumer and never shows secrets", testList},
		{"rotate issues a successor and limits the old key to the grace period", testRotate},
		{"rotate with zero grace ends the old key at once", testRotateNoGrace},
		{"rotate keeps the lifetime of an expiring key", testRotateExpiring},
		{"revoke ends a key at once and is idempotent", testRevoke},
		{"unknown and malformed ids are not found", testNotFound},
		{"keys expire at expires_at", testExpire},
		{"last used is recorded coarsely and only forwards", testTouch},
		{"changes reach watchers of this and other instances", testWatch},
		{"secrets are never stored", testHashAtRest},
		{"a pepper keys the hash", testPepper},
		{"concurrent writers all succeed", testConcurrentCreate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newHarness(t)) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func open(t *testing.T, h Harness, clock *Clock) store.Store {
	t.Helper()
	opts := store.Options{PollInterval: 50 * time.Millisecond, PingInterval: time.Second}
	if clock != nil {
		opts.Now = clock.Now
	}
	return h.Open(t, opts)
}

func mustCreate(t *testing.T, s store.Store, spec store.KeySpec) (*store.Key, string) {
	t.Helper()
	k, full, err := s.CreateKey(ctx(t), spec)
	if err != nil {
		t.Fatalf("CreateKey(%+v): %v", spec, err)
	}
	return k, full
}

func secretOf(t *testing.T, full string) string {
	t.Helper()
	_, secret, err := store.ParseKey(full)
	if err != nil {
		t.Fatalf("ParseKey(%q): %v", full, err)
	}
	return secret
}

func testMigrations(t *testing.T, h Harness) {
	s := open(t, h, nil)
	if got := h.SchemaVersion(t); got != h.LatestVersion || got < 1 {
		t.Fatalf("schema version after open = %d, want %d", got, h.LatestVersion)
	}
	k, _ := mustCreate(t, s, store.KeySpec{Consumer: "acme"})
	// Opening again (a restart, or a second replica) applies nothing and
	// keeps the data.
	s2 := open(t, h, nil)
	if got := h.SchemaVersion(t); got != h.LatestVersion {
		t.Fatalf("schema version after reopen = %d, want %d", got, h.LatestVersion)
	}
	if _, err := s2.Key(ctx(t), k.ID); err != nil {
		t.Fatalf("key lost across reopen: %v", err)
	}
}

func testCreate(t *testing.T, h Harness) {
	clock := NewClock(Epoch)
	s := open(t, h, clock)
	exp := Epoch.Add(90 * 24 * time.Hour)
	spec := store.KeySpec{Consumer: "acme", Scopes: []string{"items:read", "items:write", "items:read"}, Roles: []string{"partner"},
		Labels: map[string]string{"team": "payments", "ticket": "SEC-42"}, ExpiresAt: exp}
	k, full := mustCreate(t, s, spec)

	id, secret, err := store.ParseKey(full)
	if err != nil || id != k.ID {
		t.Fatalf("full key %q: id %q, err %v; record id %q", full, id, err, k.ID)
	}
	if !strings.HasPrefix(full, "rk_") || len(full) != store.KeyLen {
		t.Errorf("full key %q has the wrong shape", full)
	}
	want := &store.Key{ID: k.ID, Consumer: "acme", Scopes: []string{"items:read", "items:write"}, Roles: []string{"partner"},
		Labels: map[string]string{"team": "payments", "ticket": "SEC-42"}, CreatedAt: store.Timestamp(Epoch), ExpiresAt: store.Timestamp(exp), Hash: k.Hash}
	if diff := cmp.Diff(want, k); diff != "" {
		t.Errorf("returned record (-want +got):\n%s", diff)
	}
	got, err := s.Key(ctx(t), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(k, got); diff != "" {
		t.Errorf("stored record differs from the returned one (-returned +stored):\n%s", diff)
	}
	if !s.Verify(got, secret) {
		t.Error("Verify refuses the key's own secret")
	}
	other, otherFull := mustCreate(t, s, store.KeySpec{Consumer: "acme"})
	if s.Verify(got, secretOf(t, otherFull)) || s.Verify(other, secret) {
		t.Error("Verify accepts another key's secret")
	}
	flipped := []byte(secret)
	flipped[0] ^= 1
	if s.Verify(got, string(flipped)) || s.Verify(got, "") || s.Verify(got, secret+"x") {
		t.Error("Verify accepts a wrong secret")
	}
	if k.ID == other.ID || secret == secretOf(t, otherFull) {
		t.Error("two keys share an id or a secret")
	}
	// No key without a consumer: the consumer exists now.
	cs, err := s.Consumers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Consumer{{Name: "acme", CreatedAt: store.Timestamp(Epoch)}}, cs); diff != "" {
		t.Errorf("consumers (-want +got):\n%s", diff)
	}
}

func testCreateInvalid(t *testing.T, h Harness) {
	clock := NewClock(Epoch)
	s := open(t, h, clock)
	bad := map[string]store.KeySpec{
		"no consumer":             {},
		"consumer with a space":   {Consumer: "acme corp"},
		"consumer with a newline": {Consumer: "acme\nX-Rampart-Subject: admin"},
		"scope with a space":      {Consumer: "acme", Scopes: []string{"a b"}},
		"role with a comma":       {Consumer: "acme", Roles: []string{"admin,root"}},
		"empty role":              {Consumer: "acme", Roles: []string{""}},
		"label key upper case":    {Consumer: "acme", Labels: map[string]string{"Team": "x"}},
		"label value control":     {Consumer: "acme", Labels: map[string]string{"team": "a\x00b"}},
		"expiry in the past":      {Consumer: "acme", ExpiresAt: Epoch.Add(-time.Second)},
		"expiry now":              {Consumer: "acme", ExpiresAt: Epoch},
	}
	for name, spec := range bad {
		t.Run(name, func(t *testing.T) {
			if _, _, err := s.CreateKey(ctx(t), spec); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("CreateKey: err = %v, want ErrInvalid", err)
			}
		})
	}
	keys, err := s.ListKeys(ctx(t), store.ListOptions{})
	if err != nil || len(keys) != 0 {
		t.Errorf("refused specs left keys behind: %d, %v", len(keys), err)
	}
}

func testList(t *testing.T, h Harness) {
	clock := NewClock(Epoch)
	s := open(t, h, clock)
	var fulls []string
	var want []string
	for i, c := range []string{"acme", "globex", "acme"} {
		clock.Advance(time.Second)
		k, full := mustCreate(t, s, store.KeySpec{Consumer: c, Labels: map[string]string{"n": fmt.Sprint(i)}})
		fulls = append(fulls, full)
		want = append(want, k.ID)
	}
	all, err := s.ListKeys(ctx(t), store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ids(all)); diff != "" {
		t.Errorf("list order (-want +got):\n%s", diff)
	}
	acme, err := s.ListKeys(ctx(t), store.ListOptions{Consumer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{want[0], want[2]}, ids(acme)); diff != "" {
		t.Errorf("consumer filter (-want +got):\n%s", diff)
	}
	none, err := s.ListKeys(ctx(t), store.ListOptions{Consumer: "nobody"})
	if err != nil || len(none) != 0 {
		t.Errorf("unknown consumer: %v, %v", ids(none), err)
	}
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	for _, full := range fulls {
		if bytes.Contains(b, []byte(secretOf(t, full))) {
			t.Fatalf("listing as JSON shows a secret: %s", b)
		}
	}
	for _, k := range all {
		if strings.Contains(string(b), fmt.Sprintf("%x", k.Hash)) || bytes.Contains(b, []byte("hash")) {
			t.Fatalf("listing as JSON shows a hash: %s", b)
		}
	}
	cs, err := s.Consumers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Name != "acme" || cs[1].Name != "globex" {
		t.Errorf("consumers = %+v", cs)
	}
}

func ids(keys []*store.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

func testRotate(t *testing.T, h Harness) {
	clock := NewClock(Epoch)
	s := open(t, h, clock)
	k, oldFull := mustCreate(t, s, store.KeySpec{Consumer: "acme", Scopes: []string{"items:read"}, Roles: []string{"partner"},
		Labels: map[string]string{"team": "payments"}})
	clock.Advance(time.Hour)
	old, next, full, err := s.RotateKey(ctx(t), k.ID, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := store.Timestamp(clock.Now())
	if old.ID != k.ID || old.RotatedTo != next.ID || !old.ExpiresAt.Equal(now.Add(24*time.Hour)) {
		t.Errorf("old key after rotation: %+v", old)
	}
	if next.Consumer != "acme" || !cmp.Equal(next.Scopes, k.Scopes) || !cmp.Equal(next.Roles, k.Roles) ||
		!cmp.Equal(next.Labels, k.Labels) || !next.ExpiresAt.IsZero() || !next.CreatedAt.Equal(now) {
		t.Errorf("successor does not carry the old key's grants: %+v", next)
	}
	id, secret, err := store.ParseKey(full)
	if err != nil || id != next.ID {
		t.Fatalf("successor full key %q: %v", full, err)
	}
	stored, err := s.Key(ctx(t), next.ID)
	if err != nil || !s.Verify(stored, secret) {
		t.Fatalf("successor not stored or does not verify: %v", err)
	}
	storedOld, err := s.Key(ctx(t), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(old, storedOld); diff != "" {
		t.Errorf("stored old key differs from the returned one:\n%s", diff)
	}
	if !s.Verify(storedOld, secretOf(t, oldFull)) {
		t.Error("the old key no longer verifies during its grace period")
	}
	if !storedOld.Usable(now.Add(24*time.Hour-time.Microsecond)) || storedOld.Usable(now.Add(24*time.Hour)) {
		t.Error("the old key is not usable for exactly the grace period")
	}
	if got := storedOld.Status(now); got != "rotated" {
		t.Errorf("status during grace = %q, want rotated", got)
	}
	if _, _, _, err := s.RotateKey(ctx(t), k.ID, time.Hour); !errors.Is(err, store.ErrRotated) {
		t.Errorf("rotating a rotated key: err = %v, want ErrRotated", err)
	}
	if _, _, _, err := s.RotateKey(ctx(t), next.ID, -time.Second); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("negative grace: err = %v, want ErrInvalid", err)
	}
	all, err := s.ListKeys(ctx(t), store.ListOptions{Consumer: "acme"})
	if err != nil || len(all) != 2 {
		t.Errorf("keys after one rotation: %v, %v", ids(all), err)
	}
}

func testRotateNoGrace(t *testing.T, h Harness) {
	clock := NewClock(Epoch)
	s := open(t, h, clock)
	k, _ := mustCreate(t, s, store.KeySpec{Consumer: "acme"})
	old, _, _, err := s.RotateKey(ctx(t), k.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if old.Usable(clock.Now()) {
		t.Errorf("old key still usable after rotation without grace: %+v", old)
	}
}

func testRotateExpiring(t *testing.T, h Harness) {
	clock := NewClock(Epoch)
	s := open(t, h, clock)
	k, _ := mustCreate(t, s, store.KeySpec{Consumer: "acme", ExpiresAt: Epoch.Add(30 * 24 * time.Hour)})
	clock.Advance(29 * 24 * time.Hour)
	old, next, _, err := s.RotateKey(ctx(t), k.ID, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := store.Timestamp(clock.Now())
	if !old.ExpiresAt.Equal(k.ExpiresAt) {
		t.Errorf("grace extended the old key past its own expiry: %v, was %v", old.ExpiresAt, k.ExpiresAt)
	}
	if want := now.Add(k.ExpiresAt.Sub(k.CreatedAt)); !next.ExpiresAt.Equal(want) {
		t.Errorf("successor expires %v, want %v (same lifetime)", next.ExpiresAt, want)
	}
}

func testRevoke(t *testing.T, h Harness) {
	clock := NewClock(Epoch)
	s := open(t, h, clock)
	k, full := mustCreate(t, s, store.KeySpec{Consumer: "acme"})
	clock.Advance(time.Minute)
	r, err := s.RevokeKey(ctx(t), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	at := store.Timestamp(clock.Now())
	if !r.RevokedAt.Equal(at) || r.Usable(at) || r.Status(at) != "revoked" {
		t.Errorf("revoked key: %+v", r)
	}
	stored, err := s.Key(ctx(t), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Usable(at) || !stored.RevokedAt.Equal(at) {
		t.Errorf("stored key not revoked: %+v", stored)
	}
	if !s.Verify(stored, secretOf(t, full)) {
		t.Error("revocation must not change the hash (the authenticator refuses by revoked_at)")
	}
	clock.Advance(time.Minute)
	again, err := s.RevokeKey(ctx(t), k.ID)
	if err != nil || !again.RevokedAt.Equal(at) {
		t.Errorf("second revoke: %+v, %v; want the first revocation time kept", again, err)
	}
	if _, _, _, err := s.RotateKey(ctx(t), k.ID, time.Hour); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("rotating a revoked key: err = %v, want ErrRevoked", err)
	}
}

func testNotFound(t *testing.T, h Harness) {
	s := open(t, h, nil)
	for _, id := range []string{"AAAAAAAAAAAA", "", "short", "'; DROP TABLE api_keys; --", strings.Repeat("a", 13), "abc_def"} {
		if _, err := s.Key(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Key(%q): err = %v, want ErrNotFound", id, err)
		}
		if _, err := s.RevokeKey(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RevokeKey(%q): err = %v, want ErrNotFound", id, err)
		}
		if _, _, _, err := s.RotateKey(ctx(t), id, time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RotateKey(%q): err = %v, want ErrNotFound", id, err)
		}
	}
}

func testExpire(t *testing.T, h Harness) {
	clock := NewClock(Epoch)
	s := open(t, h, clock)
	k, _ := mustCreate(t, s, store.KeySpec{Consumer: "acme", ExpiresAt: Epoch.Add(time.Hour)})
	stored, err := s.Key(ctx(t), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	exp := store.Timestamp(Epoch.Add(time.Hour))
	if !stored.ExpiresAt.Equal(exp) {
		t.Fatalf("expires_at = %v, want %v", stored.ExpiresAt, exp)
	}
	if !stored.Usable(exp.Add(-time.Microsecond)) || stored.Status(exp.Add(-time.Microsecond)) != "active" {
		t.Error("key not usable before expires_at")
	}
	if stored.Usable(exp) || stored.Status(exp) != "expired" {
		t.Error("key usable at expires_at")
	}
}

func testTouch(t *testing.T, h Harness) {
	clock := NewClock(Epoch)
	s := open(t, h, clock)
	a, _ := mustCreate(t, s, store.KeySpec{Consumer: "acme"})
	b, _ := mustCreate(t, s, store.KeySpec{Consumer: "acme"})
	t1 := Epoch.Add(time.Minute)
	if err := s.TouchLastUsed(ctx(t), map[string]time.Time{a.ID: t1, "ZZZZZZZZZZZZ": t1}); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchLastUsed(ctx(t), map[string]time.Time{a.ID: Epoch, b.ID: t1.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	ga, _ := s.Key(ctx(t), a.ID)
	gb, _ := s.Key(ctx(t), b.ID)
	if !ga.LastUsedAt.Equal(store.Timestamp(t1)) {
		t.Errorf("a.last_used_at = %v, want %v (an older time must not move it back)", ga.LastUsedAt, t1)
	}
	if !gb.LastUsedAt.Equal(store.Timestamp(t1.Add(time.Minute))) {
		t.Errorf("b.last_used_at = %v", gb.LastUsedAt)
	}
	if err := s.TouchLastUsed(ctx(t), nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

// next returns the next event that is not a reset, or fails after d.
func next(t *testing.T, ch <-chan store.KeyEvent, d time.Duration) store.KeyEvent {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("watch channel closed")
			}
			if ev.Kind == store.EventReset {
				continue
			}
			return ev
		case <-timer.C:
			t.Fatalf("no event within %v", d)
			return store.KeyEvent{}
		}
	}
}

func testWatch(t *testing.T, h Harness) {
	a := open(t, h, nil)
	b := open(t, h, nil) // another process or replica on the same database
	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	fromA, fromB := a.Watch(wctx), b.Watch(wctx)
	// PostgreSQL's listener says "reset" once it listens; make sure both are
	// live before changing anything.
	time.Sleep(200 * time.Millisecond)

	k, _ := mustCreate(t, a, store.KeySpec{Consumer: "acme"})
	for name, ch := range map[string]<-chan store.KeyEvent{"same instance": fromA, "other instance": fromB} {
		if ev := next(t, ch, 2*time.Second); ev != (store.KeyEvent{Kind: store.EventCreated, ID: k.ID}) {
			t.Errorf("%s: event %+v, want created %s", name, ev, k.ID)
		}
	}
	start := time.Now()
	if _, err := b.RevokeKey(ctx(t), k.ID); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan store.KeyEvent{"same instance": fromB, "other instance": fromA} {
		if ev := next(t, ch, time.Second); ev != (store.KeyEvent{Kind: store.EventRevoked, ID: k.ID}) {
			t.Errorf("%s: event %+v, want revoked %s", name, ev, k.ID)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("revocation took %v to reach both instances, want under a second", d)
	}
	k2, _ := mustCreate(t, a, store.KeySpec{Consumer: "acme"})
	_ = next(t, fromB, 2*time.Second) // created k2
	_, n, _, err := a.RotateKey(ctx(t), k2.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got := []store.KeyEvent{next(t, fromB, time.Second), next(t, fromB, time.Second)}
	want := []store.KeyEvent{{Kind: store.EventCreated, ID: k2.ID}, {Kind: store.EventRotated, ID: k2.ID}, {Kind: store.EventCreated, ID: n.ID}}
	if !containsAll(want[1:], got) {
		t.Errorf("rotation events on the other instance: %+v, want %+v", got, want[1:])
	}
	// Cancelling the context closes the channel.
	cancel()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-fromA:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed after its context ended")
		}
	}
}

func containsAll(want, got []store.KeyEvent) bool {
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return false
		}
	}
	return true
}

func testHashAtRest(t *testing.T, h Harness) {
	s := open(t, h, nil)
	var secrets []string
	for i := 0; i < 5; i++ {
		k, full := mustCreate(t, s, store.KeySpec{Consumer: "acme", Scopes: []string{"items:read"}})
		secrets = append(secrets, full, secretOf(t, full))
		if i == 0 {
			_, _, rotated, err := s.RotateKey(ctx(t), k.ID, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, rotated, secretOf(t, rotated))
		}
		if i == 1 {
			if _, err := s.RevokeKey(ctx(t), k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	dump := h.Dump(t)
	if len(dump) == 0 {
		t.Fatal("empty dump")
	}
	if !bytes.Contains(dump, []byte("acme")) || !bytes.Contains(dump, []byte("items:read")) {
		t.Fatal("the dump does not contain the stored records; it proves nothing")
	}
	for _, sec := range secrets {
		// Any 16-character window of a secret: a secret stored in pieces or
		// with a prefix still shows.
		for i := 0; i+16 <= len(sec); i += 8 {
			if bytes.Contains(dump, []byte(sec[i:i+16])) {
				t.Fatalf("a secret is stored at rest: found %q", sec[i:i+16])
			}
		}
	}
}

func testPepper(t *testing.T, h Harness) {
	pepper := bytes.Repeat([]byte("p"), 32)
	s := h.Open(t, store.Options{Pepper: pepper})
	k, full := mustCreate(t, s, store.KeySpec{Consumer: "acme"})
	plain := h.Open(t, store.Options{})
	stored, err := plain.Key(ctx(t), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Verify(stored, secretOf(t, full)) {
		t.Error("a store without the pepper verifies a peppered key")
	}
	if !s.Verify(stored, secretOf(t, full)) {
		t.Error("the peppered store does not verify its own key")
	}
	if _, err := store.NewHasher([]byte("short")); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("short pepper: %v", err)
	}
}

func testConcurrentCreate(t *testing.T, h Harness) {
	a := open(t, h, nil)
	b := open(t, h, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := s.CreateKey(ctx(t), store.KeySpec{Consumer: fmt.Sprintf("c%d", i%5)})
			if err == nil && i%4 == 0 {
				_, err = s.RevokeKey(ctx(t), k.ID)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	all, err := a.ListKeys(ctx(t), store.ListOptions{})
	if err != nil || len(all) != 40 {
		t.Errorf("keys after concurrent creates: %d, %v", len(all), err)
	}
}
