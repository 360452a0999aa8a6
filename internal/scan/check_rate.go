package scan

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

var reHealth = regexp.MustCompile(`(?i)health|ready|live|ping|status|metrics|version`)

// checkRateLimit is RATE001: a bounded burst to a cheap read operation,
// sent last (a limiter that trips must not spoil the other checks) and at
// the scan's rate cap.
func (s *scanner) checkRateLimit(ctx context.Context, burst int) {
	if s.rateSignal != nil {
		s.tested("RATE001")
		what := fmt.Sprintf("%d", s.rateSignal.status)
		if h := rateHeader(s.rateSignal.header); h != "" && s.rateSignal.status != http.StatusTooManyRequests {
			what = h + " header"
		}
		s.note(fmt.Sprintf("rate limiting observed during the scan (%s on %s %s)", what, s.rateSignal.req.method, s.red.url(s.rateSignal.url)))
		return
	}
	ep := s.cheapRead()
	if ep == nil {
		s.skipped("RATE001", "no GET operation without path parameters answered 2xx")
		return
	}
	if s.c.remaining() < burst {
		burst = s.c.remaining()
	}
	if burst < 2 {
		s.skipped("RATE001", "request budget exhausted")
		return
	}
	s.tested("RATE001")
	if burst < s.opts.Burst {
		s.partial("RATE001", fmt.Sprintf("burst reduced to %d requests by --max-requests", burst))
	}
	var last *exchange
	for i := 0; i < burst; i++ {
		ex := s.sendLike(ctx, ep, http.MethodGet, ep.target, nil, kindBurst)
		if ex == nil {
			s.partial("RATE001", "the burst was cut short (no response or budget)")
			return
		}
		if ex.status == http.StatusTooManyRequests || rateHeader(ex.header) != "" {
			return // limited, or advertising a policy
		}
		if !is2xx(ex) {
			s.partial("RATE001", fmt.Sprintf("inconclusive: the burst got %d on request %d", ex.status, i+1))
			return
		}
		last = ex
	}
	s.found(hit{rule: "RATE001", ex: last, key: "burst",
		message: fmt.Sprintf("%d requests to %s %s at up to %s all answered 2xx, with no 429 and no rate-limit headers anywhere in the scan.", burst, ep.method, ep.template, rateText(s.opts.Rate)),
		proof:   fmt.Sprintf("%d of %d requests → 2xx; no 429, RateLimit, RateLimit-Policy, X-RateLimit-* or Retry-After", burst, burst)})
}

// cheapRead picks a GET operation without path parameters that answered
// 2xx: public before secured, ordinary before admin-looking, and health
// checks last (they are often exempt from limits by design).
func (s *scanner) cheapRead() *endpoint {
	return s.pickRead(func(ep *endpoint) bool { return !strings.Contains(ep.template, "{") })
}

// pickRead returns the best GET endpoint that answered 2xx and passes ok.
func (s *scanner) pickRead(ok func(*endpoint) bool) *endpoint {
	var best *endpoint
	bestRank := 0
	for _, ep := range s.eps {
		if ep.method != http.MethodGet || !is2xx(ep.best()) || !ok(ep) {
			continue
		}
		rank := 1
		if ep.op == nil || !ep.op.Secured() {
			rank += 4
		}
		if ep.op == nil || !adminLooking(ep.op) {
			rank += 2
		}
		if !reHealth.MatchString(ep.template) {
			rank++
		}
		if rank > bestRank {
			best, bestRank = ep, rank
		}
	}
	return best
}

func rateText(r float64) string {
	if r >= 1 {
		return fmt.Sprintf("%g/s", r)
	}
	return fmt.Sprintf("%g/min", r*60)
}
