package ratelimit

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Step is the pipeline step name reported to the Observer.
const Step = "ratelimit"

// Problem types (after pipeline.TypePrefix).
const (
	TypeRateLimited        = "rate-limited"           // 429: a limit of a policy is exhausted
	TypeConcurrencyLimited = "concurrency-limited"    // 429: too many requests in flight for the key
	TypeUnavailable        = "rate-limit-unavailable" // 503: shared state unreachable, fail_closed
)

// Exceeded is the Err of every 429 Rejection this package writes, so an
// Observer can count refusals per policy (errors.As(rej.Err, &ex)).
type Exceeded struct {
	Policy      string
	RetryAfter  time.Duration
	Concurrency bool // refused by the policy's concurrency, not its rate
}

func (e *Exceeded) Error() string {
	if e.Concurrency {
		return fmt.Sprintf("rate limit %q: too many requests in flight", e.Policy)
	}
	return fmt.Sprintf("rate limit %q exceeded; retry after %s", e.Policy, e.RetryAfter)
}

// Options tune Middleware. The zero value is ready to use.
type Options struct {
	// OmitSuccessHeaders leaves the RateLimit and RateLimit-Policy fields off
	// admitted responses. By default every response of a limited route
	// carries them; refusals always do.
	OmitSuccessHeaders bool
	// InFlight counts requests in flight for policies with a concurrency.
	// Share one across config reloads. nil means one private to this
	// Middleware.
	InFlight *InFlight
	// Now is the clock handed to the Limiter. nil means time.Now.
	Now func() time.Time
}

// Middleware enforces policies (every one must admit the request) with
// limiter. A refused request gets a 429 problem with Retry-After (seconds,
// rounded up) and the RateLimit-Policy and RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers-11, is reported to obs under Step, and
// never reaches next. A limiter error (shared state unreachable while failing
// closed) is a 503 problem. Concurrency slots are taken before any rate is
// charged, so a request refused for concurrency costs no quota, and are
// released when next returns (the response is finished).
//
// Policies are decided one after another: a request refused by a later policy
// has already been counted by the earlier ones, as with several
// Flask-Limiter decorators. The limits inside one policy are decided
// together and atomically.
func Middleware(policies []*Policy, limiter Limiter, obs pipeline.Observer, opts Options) pipeline.Middleware {
	if len(policies) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	m := &middleware{policies: append([]*Policy(nil), policies...), limiter: limiter, obs: obs, opts: opts}
	if m.opts.Now == nil {
		m.opts.Now = time.Now
	}
	var fields []string
	for _, p := range policies {
		if p.Concurrency > 0 {
			m.concurrency = true
		}
		if p.policy != "" {
			fields = append(fields, p.policy)
		}
	}
	if m.concurrency && m.opts.InFlight == nil {
		m.opts.InFlight = NewInFlight()
	}
	if len(fields) > 0 {
		m.policyField = []string{strings.Join(fields, ", ")}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, next) })
	}
}

type middleware struct {
	policies    []*Policy
	limiter     Limiter
	obs         pipeline.Observer
	opts        Options
	concurrency bool
	policyField []string // RateLimit-Policy value, shared read-only
}

const (
	hdrPolicy = "Ratelimit-Policy" // canonical form of RateLimit-Policy
	hdrLimit  = "Ratelimit"
)

func (m *middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	var keyBuf [4]string
	keys := keyBuf[:0]
	for _, p := range m.policies {
		k, err := p.Key.Key(r, p.Name)
		if err != nil {
			pipeline.Refuse(w, r, Step, m.obs, err)
			return
		}
		keys = append(keys, k)
	}
	held := 0 // policies[:held] whose concurrency slot we hold
	release := func() {
		for i := range held {
			if m.policies[i].Concurrency > 0 {
				m.opts.InFlight.Release(keys[i])
			}
		}
	}
	if m.concurrency {
		for i, p := range m.policies {
			if p.Concurrency > 0 && !m.opts.InFlight.Acquire(keys[i], p.Concurrency) {
				release()
				rej := &pipeline.Rejection{Status: http.StatusTooManyRequests, Type: TypeConcurrencyLimited,
					Detail: fmt.Sprintf("Too many requests in flight for rate limit %q; retry shortly.", p.Name),
					Header: http.Header{"Retry-After": {"1"}}, Err: &Exceeded{Policy: p.Name, RetryAfter: time.Second, Concurrency: true}}
				if m.policyField != nil {
					rej.Header[hdrPolicy] = m.policyField
				}
				pipeline.Refuse(w, r, Step, m.obs, rej)
				return
			}
			held = i + 1
		}
	}
	defer release()

	var decs [4]Decision
	decided := decs[:0]
	now := m.opts.Now()
	for i, p := range m.policies {
		if len(p.Limits) == 0 {
			decided = append(decided, Decision{Unlimited: true})
			continue
		}
		d, err := m.limiter.Allow(r.Context(), keys[i], p.Limits, now)
		if err != nil {
			rej := &pipeline.Rejection{Status: http.StatusServiceUnavailable, Type: TypeUnavailable,
				Detail: "Rate limits cannot be checked right now; retry shortly.",
				Header: http.Header{"Retry-After": {"1"}}, Err: fmt.Errorf("rate limit %q: %w", p.Name, err)}
			pipeline.Refuse(w, r, Step, m.obs, rej)
			return
		}
		decided = append(decided, d)
		if !d.Allowed {
			secs := ceilSeconds(d.RetryAfter)
			rej := &pipeline.Rejection{Status: http.StatusTooManyRequests, Type: TypeRateLimited,
				Detail: fmt.Sprintf("Rate limit %q exceeded; retry in %d s.", p.Name, secs),
				Header: http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}},
				Err:    &Exceeded{Policy: p.Name, RetryAfter: d.RetryAfter}}
			if m.policyField != nil {
				rej.Header[hdrPolicy] = m.policyField
			}
			if v := m.limitField(decided); v != "" {
				rej.Header[hdrLimit] = []string{v}
			}
			pipeline.Refuse(w, r, Step, m.obs, rej)
			return
		}
	}
	if !m.opts.OmitSuccessHeaders {
		h := w.Header()
		if m.policyField != nil {
			h[hdrPolicy] = m.policyField
		}
		if v := m.limitField(decided); v != "" {
			h[hdrLimit] = []string{v}
		}
	}
	next.ServeHTTP(w, r)
}

// limitField renders the RateLimit field for the decisions so far:
// `"name";r=REMAINING;t=SECONDS` per limit. t is, while quota remains, the
// time until it is whole again, and once none remains, the time until the
// next request would be admitted (never later than Retry-After, as the
// draft's section 6 asks).
func (m *middleware) limitField(decided []Decision) string {
	var buf [256]byte
	b := buf[:0]
	for i, d := range decided {
		if d.Unlimited {
			continue
		}
		p := m.policies[i]
		for j := range p.Limits {
			ls := d.Limits[j]
			if len(b) > 0 {
				b = append(b, ", "...)
			}
			b = append(b, p.items[j]...)
			b = append(b, ";r="...)
			b = strconv.AppendInt(b, ls.Remaining, 10)
			b = append(b, ";t="...)
			t := ls.Reset
			if ls.Remaining == 0 {
				t = ls.RetryAfter
			}
			b = strconv.AppendInt(b, ceilSecondsOrZero(t), 10)
		}
	}
	return string(b)
}

// ceilSeconds rounds d up to whole seconds, at least 1: a Retry-After of 0
// would invite an immediate retry that is bound to fail.
func ceilSeconds(d time.Duration) int64 {
	return max(ceilSecondsOrZero(d), 1)
}

func ceilSecondsOrZero(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
