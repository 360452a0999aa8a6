package jwt

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Key states, as /readyz and the rampart_authenticator_ready metric report
// them.
const (
	StateReady   = "ready"   // keys loaded (a static key, or a JWKS fetched at least once)
	StateWaiting = "waiting" // no JWKS yet: the IdP has not answered; retried with backoff
	StateInvalid = "invalid" // the IdP answered with documents that cannot be used; retried with backoff
)

// ErrKeysUnavailable is why a token is refused while no JWKS has been
// fetched: the authenticator answers 503 auth-unavailable with Retry-After.
var ErrKeysUnavailable = errors.New("jwt: no keys fetched yet")

// ErrKeysInvalid is wrapped by fetch errors about documents that arrived but
// cannot be used (a malformed JWKS or one without a usable key, a discovery
// document naming another issuer): a misconfiguration or an attack, not an
// outage, so it is logged as an error and `rampart check --online` fails.
var ErrKeysInvalid = errors.New("invalid key material")

// State is where an authenticator's keys stand.
type State struct {
	State string // StateReady, StateWaiting or StateInvalid
	Err   error  // the last fetch failure, if any (with keys: a failed refresh, keys kept)
}

// Backoff is the retry schedule of a JWKS not fetched yet: Initial, doubled
// per failure up to the cap, each delay drawn uniformly from its upper half
// so replicas restarted together do not retry in step.
type Backoff struct {
	// Initial is the first delay; 0 means 500ms.
	Initial time.Duration
	// Max caps the delay; 0 means jwks_refresh_floor (1m unless set).
	Max time.Duration
	// Jitter returns a random duration in [0, d); nil means math/rand/v2.
	Jitter func(d time.Duration) time.Duration
}

// Delay is the wait after the attempt-th consecutive failure (0 = the first);
// floor is the cap when Max is unset.
func (b Backoff) Delay(attempt int, floor time.Duration) time.Duration {
	d, ceiling := b.Initial, b.Max
	if d <= 0 {
		d = 500 * time.Millisecond
	}
	if ceiling <= 0 {
		ceiling = floor
	}
	for i := 0; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	jitter := b.Jitter
	if jitter == nil {
		jitter = func(d time.Duration) time.Duration { return rand.N(d) }
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return d - half + jitter(half)
}

// State reports where the authenticator's keys stand. Static keys (secret,
// public_key_file) are always ready.
func (a *Authenticator) State() State {
	if a.keys.jwks == nil {
		return State{State: StateReady}
	}
	st, _ := a.keys.jwks.status()
	return st
}

// Wait blocks until the first JWKS fetch attempt has ended (at once for
// static keys) and returns nil if keys are loaded, else the attempt's error
// (wrapping ErrKeysInvalid when documents arrived but were refused). For
// `rampart check --online`; serving never waits.
func (a *Authenticator) Wait(ctx context.Context) error {
	if a.keys.jwks == nil {
		return nil
	}
	return a.keys.jwks.wait(ctx)
}
