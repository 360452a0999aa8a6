package detect

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// Block refusal types: the gateway's answers to blocked requests (they are
// not evidence of anything new, so the detectors skip them).
const (
	TypeClientBlocked    = "client-blocked"    // 403
	TypeClientSuspended  = "client-suspended"  // 429
	TypePrincipalBlocked = "principal-blocked" // 403 or 429, after authentication
)

// state is every detector's memory; only the engine's goroutine touches it.
type state struct {
	failures        *tracker[netip.Prefix, *window]           // credential stuffing: failures per client
	usernames       *tracker[netip.Prefix, *distinct[string]] // spraying: usernames per client
	clientsPerUser  *tracker[string, *distinct[netip.Prefix]] // one username, many clients
	misses          *tracker[netip.Prefix, *window]           // scanning
	addresses       *tracker[string, *distinct[netip.Prefix]] // token sharing: addresses per principal
	clientVolume    *tracker[netip.Prefix, *rate]
	principalVolume *tracker[string, *rate]
	violations      *tracker[netip.Prefix, *window]
	cooldowns       *tracker[string, *int64] // alert de-duplication: quiet until
}

func newState(ev *atomic.Uint64) *state {
	const n = 100000 // resized from the config at each event
	return &state{
		failures: newTracker[netip.Prefix, *window](n, ev), usernames: newTracker[netip.Prefix, *distinct[string]](n, ev),
		clientsPerUser: newTracker[string, *distinct[netip.Prefix]](n, ev), misses: newTracker[netip.Prefix, *window](n, ev),
		addresses: newTracker[string, *distinct[netip.Prefix]](n, ev), clientVolume: newTracker[netip.Prefix, *rate](n, ev),
		principalVolume: newTracker[string, *rate](n, ev), violations: newTracker[netip.Prefix, *window](n, ev),
		cooldowns: newTracker[string, *int64](n, ev),
	}
}

func (s *state) resize(n int) {
	s.failures.max, s.usernames.max, s.clientsPerUser.max, s.misses.max = n, n, n, n
	s.addresses.max, s.clientVolume.max, s.principalVolume.max, s.violations.max, s.cooldowns.max = n, n, n, n, n
}

func newWindow() *window                      { return &window{} }
func newDistinct[V comparable]() *distinct[V] { return &distinct[V]{} }
func newRate() *rate                          { return &rate{} }

// observe runs every enabled detector on ev.
func (s *state) observe(e *Engine, cfg *Config, ev *Event) {
	switch ev.Refusal {
	case TypeClientBlocked, TypeClientSuspended, TypePrincipalBlocked:
		return
	}
	s.resize(cfg.MaxTrackedKeys)
	at := time.Unix(0, ev.Time)
	client := clientKey(ev.Client)
	principal := ""
	if ev.Principal != "" {
		principal = ev.Authenticator + ":" + ev.Principal
	}
	if c := cfg.CredentialStuffing; c.Enabled && ev.failedAuth() {
		s.credentialStuffing(e, c, ev, client, at)
	}
	if c := cfg.Scanning; c.Enabled && ev.miss() {
		weight := 1
		if Sensitive(ev.Path) {
			weight = c.SensitiveWeight
		}
		if w := s.misses.get(client, newWindow); w.add(ev.Time, weight, c.Misses, c.Window) {
			w.reset()
			e.respond(finding{DetScanning, KindClient, subjectText(client), c.Action, c.BlockFor,
				map[string]int64{"misses": int64(c.Misses), "window_seconds": seconds(c.Window)}}, at)
		}
	}
	if c := cfg.TokenSharing; c.Enabled && principal != "" {
		if d := s.addresses.get(principal, newDistinct[netip.Prefix]); d.add(ev.Time, client, c.Addresses, c.Window) {
			n := d.count()
			d.reset()
			e.respond(finding{DetTokenSharing, KindPrincipal, principal, c.Action, c.BlockFor,
				map[string]int64{"addresses": int64(n), "window_seconds": seconds(c.Window)}}, at)
		}
	}
	if c := cfg.Volume; c.Enabled {
		if r := s.clientVolume.get(client, newRate); r.add(ev.Time, c) {
			e.respond(finding{DetVolume, KindClient, subjectText(client), c.Action, c.BlockFor, r.evidence(c)}, at)
		}
		if principal != "" {
			if r := s.principalVolume.get(principal, newRate); r.add(ev.Time, c) {
				e.respond(finding{DetVolume, KindPrincipal, principal, c.Action, c.BlockFor, r.evidence(c)}, at)
			}
		}
	}
	if c := cfg.ContractViolations; c.Enabled && ev.violation() {
		if w := s.violations.get(client, newWindow); w.add(ev.Time, 1, c.Violations, c.Window) {
			w.reset()
			e.respond(finding{DetContract, KindClient, subjectText(client), c.Action, c.BlockFor,
				map[string]int64{"violations": int64(c.Violations), "window_seconds": seconds(c.Window)}}, at)
		}
	}
}

func (s *state) credentialStuffing(e *Engine, c CredentialStuffing, ev *Event, client netip.Prefix, at time.Time) {
	if w := s.failures.get(client, newWindow); w.add(ev.Time, 1, c.Failures, c.Window) {
		w.reset()
		e.respond(finding{DetCredentialStuffing, KindClient, subjectText(client), c.Action, c.BlockFor,
			map[string]int64{"failures": int64(c.Failures), "window_seconds": seconds(c.Window)}}, at)
	}
	if ev.Username == "" {
		return
	}
	if d := s.usernames.get(client, newDistinct[string]); d.add(ev.Time, ev.Username, c.DistinctUsernames, c.UsernamesWindow) {
		n := d.count()
		d.reset()
		e.respond(finding{DetCredentialStuffing, KindClient, subjectText(client), c.Action, c.BlockFor,
			map[string]int64{"distinct_usernames": int64(n), "window_seconds": seconds(c.UsernamesWindow)}}, at)
	}
	if d := s.clientsPerUser.get(ev.Username, newDistinct[netip.Prefix]); d.add(ev.Time, client, c.ClientsPerUsername, c.ClientsWindow) {
		n := d.count()
		d.reset()
		e.respond(finding{DetCredentialStuffing, KindUsername, ev.Username, c.UsernameAction, c.BlockFor,
			map[string]int64{"clients": int64(n), "window_seconds": seconds(c.ClientsWindow)}}, at)
	}
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// rate is a key's volume: requests in the current interval, and an EWMA
// baseline of past intervals (alpha = 0.1: roughly the last ten
// intervals; empty intervals pull it down).
type rate struct {
	first, bucket int64
	count         int
	baseline      float64
	fired         bool
	limit         int
}

const alpha = 0.1

// add counts one request at now and reports whether this interval just
// went over its limit (once per interval).
func (r *rate) add(now int64, c Volume) bool {
	iv := int64(c.Interval)
	b := now - now%iv
	switch {
	case r.first == 0:
		r.first, r.bucket = now, b
	case b > r.bucket:
		r.baseline = alpha*float64(r.count) + (1-alpha)*r.baseline
		for n := (b-r.bucket)/iv - 1; n > 0 && r.baseline > 0.01; n-- {
			r.baseline *= 1 - alpha
		}
		r.bucket, r.count, r.fired = b, 0, false
	}
	r.count++
	r.limit = c.Factor * c.Floor
	if now-r.first >= int64(c.WarmUp) {
		r.limit = max(c.Floor, int(float64(c.Factor)*r.baseline))
	}
	if r.count > r.limit && !r.fired {
		r.fired = true
		return true
	}
	return false
}

func (r *rate) evidence(c Volume) map[string]int64 {
	return map[string]int64{"requests": int64(r.count), "limit": int64(r.limit), "baseline": int64(r.baseline + 0.5),
		"interval_seconds": seconds(c.Interval)}
}
