package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMintAndParse(t *testing.T) {
	h, err := NewHasher(nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		id, full, sum, err := h.Mint()
		if err != nil {
			t.Fatal(err)
		}
		gotID, secret, err := ParseKey(full)
		if err != nil || gotID != id {
			t.Fatalf("ParseKey(%q) = %q, %v", full, gotID, err)
		}
		if len(secret) != SecretLen || seen[secret] || seen[id] {
			t.Fatalf("secret %q repeats or has the wrong length", secret)
		}
		seen[secret], seen[id] = true, true
		if !h.Verify(&Key{ID: id, Hash: sum}, secret) {
			t.Fatal("a minted key does not verify")
		}
	}
}

func TestParseKeyRefuses(t *testing.T) {
	good := FormatKey("AbCdEf123456", strings.Repeat("x", SecretLen))
	if _, _, err := ParseKey(good); err != nil {
		t.Fatalf("good key refused: %v", err)
	}
	bad := map[string]string{
		"empty":                "",
		"no prefix":            "xk" + good[2:],
		"upper-case prefix":    "RK" + good[2:],
		"short secret":         good[:len(good)-1],
		"long secret":          good + "x",
		"separator moved":      "rk_AbCdEf12345_6" + strings.Repeat("x", SecretLen),
		"space inside":         good[:20] + " " + good[21:],
		"trailing newline":     good[:len(good)-1] + "\n",
		"dash in id":           "rk_AbCdEf-23456_" + strings.Repeat("x", SecretLen),
		"base64 char":          good[:len(good)-1] + "+",
		"unicode in secret":    good[:len(good)-2] + "é",
		"underscore in secret": good[:len(good)-1] + "_",
		"JWT":                  "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			if _, _, err := ParseKey(s); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseKey(%q): err = %v, want ErrMalformed", s, err)
			}
		})
	}
}

// The hand-written HMAC is RFC 2104 HMAC-SHA-256.
func TestHasherIsHMACSHA256(t *testing.T) {
	for _, pepper := range [][]byte{nil, []byte(strings.Repeat("k", 32)), []byte(strings.Repeat("long pepper ", 20))} {
		h, err := NewHasher(pepper)
		if err != nil {
			t.Fatal(err)
		}
		key := pepper
		if key == nil {
			key = []byte(defaultPepper)
		}
		for _, msg := range [][2]string{{"AbCdEf123456", strings.Repeat("s", SecretLen)}, {"", ""}, {"id", "secret"}} {
			m := hmac.New(sha256.New, key)
			m.Write([]byte(msg[0] + "_" + msg[1]))
			if got, want := h.Sum(msg[0], msg[1]), m.Sum(nil); !hmac.Equal(got, want) {
				t.Errorf("pepper %d bytes, %q: got %x, want %x", len(pepper), msg, got, want)
			}
		}
	}
}

func TestHasherRefuses(t *testing.T) {
	h, _ := NewHasher(nil)
	id, full, sum, _ := h.Mint()
	_, secret, _ := ParseKey(full)
	k := &Key{ID: id, Hash: sum}
	for name, c := range map[string]struct {
		k      *Key
		secret string
	}{
		"nil key":          {nil, secret},
		"short hash":       {&Key{ID: id, Hash: sum[:31]}, secret},
		"other id":         {&Key{ID: "ZZZZZZZZZZZZ", Hash: sum}, secret},
		"overlong secret":  {k, secret + strings.Repeat("x", 100)},
		"empty secret":     {k, ""},
		"secret as the id": {&Key{ID: secret, Hash: sum}, id},
	} {
		if h.Verify(c.k, c.secret) {
			t.Errorf("%s: verified", name)
		}
	}
	var zero Hasher
	if zero.Verify(k, secret) || zero.Sum(id, secret) != nil {
		t.Error("the zero Hasher verifies or hashes")
	}
	if h.Sum(id, secret+strings.Repeat("x", 100)) != nil {
		t.Error("Sum of an overlong message is not nil")
	}
}

func TestVerifyDoesNotAllocate(t *testing.T) {
	h, _ := NewHasher(nil)
	id, full, sum, _ := h.Mint()
	_, secret, _ := ParseKey(full)
	k := &Key{ID: id, Hash: sum}
	if n := testing.AllocsPerRun(100, func() {
		if _, _, err := ParseKey(full); err != nil || !h.Verify(k, secret) {
			t.Fatal("no")
		}
	}); n != 0 {
		t.Errorf("ParseKey+Verify allocate %v times", n)
	}
}

func BenchmarkVerify(b *testing.B) {
	h, _ := NewHasher(nil)
	id, full, sum, _ := h.Mint()
	_, secret, _ := ParseKey(full)
	k := &Key{ID: id, Hash: sum}
	b.ReportAllocs()
	for b.Loop() {
		if !h.Verify(k, secret) {
			b.Fatal("no")
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "24h": 24 * time.Hour, "1h30m": 90 * time.Minute, "0d": 0, "0s": 0} {
		got, err := ParseDuration(in, true)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "1.5d", "90", "-5m", "99999d", "forever", "1d2h"} {
		if _, err := ParseDuration(in, true); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseDuration(%q): err = %v, want ErrInvalid", in, err)
		}
	}
	if _, err := ParseDuration("0d", false); !errors.Is(err, ErrInvalid) {
		t.Error("zero accepted where a positive duration is required")
	}
}

func TestValidateSpecNormalises(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	got, err := ValidateSpec(KeySpec{Consumer: "svc.billing@prod", Scopes: []string{"a", "b", "a"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Scopes) != 2 || got.Roles == nil || got.Labels == nil {
		t.Errorf("normalised spec: %+v", got)
	}
	for _, c := range []string{"-leading", "a b", "a,b", "ünï", strings.Repeat("a", MaxConsumerLen+1), "a/b"} {
		if err := ValidateConsumer(c); err == nil {
			t.Errorf("consumer %q accepted", c)
		}
	}
}

func TestStatus(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for want, k := range map[string]Key{
		"active":  {},
		"rotated": {RotatedTo: "x", ExpiresAt: now.Add(time.Hour)},
		"expired": {RotatedTo: "x", ExpiresAt: now},
		"revoked": {RevokedAt: now, ExpiresAt: now},
	} {
		if got := k.Status(now); got != want {
			t.Errorf("%+v: status %q, want %q", k, got, want)
		}
	}
}

func TestKeyJSONHasNoHash(t *testing.T) {
	k := &Key{ID: "AbCdEf123456", Consumer: "acme", Hash: []byte("0123456789abcdef0123456789abcdef")}
	b, err := k.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hash") || strings.Contains(string(b), "MDEy") || strings.Contains(string(b), "0123") {
		t.Errorf("JSON shows the hash: %s", b)
	}
	for _, want := range []string{`"expires_at":null`, `"scopes":[]`, `"labels":{}`, `"status":"active"`, `"rotated_to":null`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
}

func TestFeed(t *testing.T) {
	var f Feed
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := f.Subscribe(ctx)
	f.Publish(KeyEvent{Kind: EventRevoked, ID: "x"})
	if ev := <-a; ev != (KeyEvent{Kind: EventRevoked, ID: "x"}) {
		t.Fatalf("got %+v", ev)
	}
	// A subscriber that joins while the source is down learns it at once.
	f.Publish(KeyEvent{Kind: EventLost})
	<-a
	b := f.Subscribe(ctx)
	if ev := <-b; ev.Kind != EventLost {
		t.Fatalf("late subscriber got %+v, want lost", ev)
	}
	f.Publish(KeyEvent{Kind: EventReset})
	<-a
	<-b
	// A subscriber that does not read loses nothing silently: its backlog
	// becomes a reset.
	for i := 0; i < 3*feedBacklog+100; i++ { // more than the channel, a batch in flight and the backlog hold
		f.Publish(KeyEvent{Kind: EventCreated, ID: "y"})
	}
	sawReset := false
	timeout := time.After(2 * time.Second)
drain:
	for {
		select {
		case ev := <-a:
			if ev.Kind == EventReset {
				sawReset = true
				break drain
			}
		case <-timeout:
			break drain
		}
	}
	if !sawReset {
		t.Error("overflowing subscriber did not get a reset")
	}
	// Close ends every subscription.
	f.Close()
	for _, ch := range []<-chan KeyEvent{a, b} {
		for range ch {
		}
	}
	if _, ok := <-f.Subscribe(ctx); ok {
		t.Error("subscription after Close is open")
	}
}

func TestFeedContextEndsSubscription(t *testing.T) {
	var f Feed
	ctx, cancel := context.WithCancel(context.Background())
	ch := f.Subscribe(ctx)
	cancel()
	for range ch {
	}
	f.mu.Lock()
	n := len(f.subs)
	f.mu.Unlock()
	if n != 0 {
		t.Errorf("%d subscribers left after their context ended", n)
	}
}
