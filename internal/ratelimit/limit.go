package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Algorithm is how a Limit counts.
type Algorithm uint8

const (
	// FixedWindow admits exactly Count requests per window of Period. A window
	// starts with the first request admitted after the previous window ended
	// (Flask-Limiter's default "fixed-window" strategy: the `limits` library
	// INCRs a counter whose expiry is set on the first hit). Across a window
	// boundary a client can get up to 2×Count within one Period — the
	// trade-off Flask-Limiter users already accept; write "burst" for a
	// smooth rate instead.
	FixedWindow Algorithm = iota
	// GCRA is the generic cell rate algorithm, which admits exactly what
	// nginx's `limit_req rate=R burst=B nodelay` admits: B+1 simultaneous
	// requests at an idle start, then one every Period/Count.
	GCRA
)

// Limit is one parsed rate string. The zero value is not a valid limit.
type Limit struct {
	Count     int64         // requests per Period, at least 1
	Period    time.Duration // a whole number of seconds, at least 1s
	Burst     int64         // GCRA only: requests admitted beyond the first at an idle start
	Algorithm Algorithm     // GCRA when the string had a "burst" clause, else FixedWindow
}

// Bounds of what Parse accepts. They keep every product of the arithmetic
// below far from int64 overflow, in nanoseconds here and in microseconds in
// the Redis script (whose numbers are doubles, exact below 2^53).
const (
	MaxCount  = 1_000_000_000
	MaxBurst  = 1_000_000_000
	maxPeriod = 3600 * 24 * time.Hour // ten Flask-Limiter years
	maxSpan   = 3600 * 24 * time.Hour // longest (Burst+1) emission intervals
	// minInterval is the shortest time between two requests a limit may
	// describe (Period/Count): the Redis script counts in microseconds.
	minInterval = time.Microsecond
)

var units = []struct {
	names []string
	d     time.Duration
	canon string
}{
	// Flask-Limiter (the `limits` library) defines a month as 30 days and a
	// year as 12 such months; we keep its arithmetic so a copied limit
	// behaves as it did.
	{[]string{"year", "years", "y"}, 360 * 24 * time.Hour, "year"},
	{[]string{"month", "months", "mo"}, 30 * 24 * time.Hour, "month"},
	{[]string{"day", "days", "d"}, 24 * time.Hour, "day"},
	{[]string{"hour", "hours", "hr", "hrs", "h"}, time.Hour, "hour"},
	{[]string{"minute", "minutes", "min", "mins", "m"}, time.Minute, "minute"},
	{[]string{"second", "seconds", "sec", "secs", "s"}, time.Second, "s"},
}

// ErrSyntax is wrapped by every Parse error.
var ErrSyntax = errors.New("invalid rate")

// Parse reads one rate string. Accepted forms (case-insensitive, spaces
// optional around the separators):
//
//	10/s  10/second  600/minute  50/hour  200/day  1000/month  5/year
//	10 per minute  200 per day           Flask-Limiter spellings
//	10r/s  30r/m                         nginx spellings
//	1/2s  10 per 5 minutes               a multiple of the unit
//	10/s burst 20  10r/s burst=20        GCRA (nginx limit_req ... nodelay)
//
// Without a burst clause the limit is a FixedWindow of exactly Count per
// Period; with one (even "burst 0") it is GCRA. Units: s, m, h, d (and their
// long names), month (30 days) and year (360 days) as in Flask-Limiter.
// Errors explain the problem with an example and wrap ErrSyntax.
func Parse(s string) (Limit, error) {
	p := rateParser{s: strings.ToLower(s)}
	l, err := p.parse()
	if err != nil {
		return Limit{}, fmt.Errorf("%w: %s", ErrSyntax, err)
	}
	return l, nil
}

type rateParser struct {
	s string
	i int
}

func (p *rateParser) spaces() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *rateParser) number(what string, max int64) (int64, bool, error) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if p.i == start {
		return 0, false, nil
	}
	digits := strings.TrimLeft(p.s[start:p.i], "0")
	if len(digits) > 10 {
		return 0, true, fmt.Errorf("%s is too large (at most %d)", what, max)
	}
	n, _ := strconv.ParseInt("0"+digits, 10, 64)
	if n > max {
		return 0, true, fmt.Errorf("%s is too large (at most %d)", what, max)
	}
	return n, true, nil
}

func (p *rateParser) word() string {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= 'a' && p.s[p.i] <= 'z' {
		p.i++
	}
	return p.s[start:p.i]
}

// near quotes what follows the parser's position, shortened, for messages.
func (p *rateParser) near() string {
	rest := p.s[p.i:]
	if len(rest) > 16 {
		rest = rest[:16] + "…"
	}
	return strconv.Quote(rest)
}

const example = `write it like "10/s", "600/minute", "200 per day" or "10/s burst 20"`

func (p *rateParser) parse() (Limit, error) {
	var l Limit
	p.spaces()
	count, ok, err := p.number("the count", MaxCount)
	if err != nil {
		return l, err
	}
	if !ok {
		if p.i == len(p.s) {
			return l, errors.New("empty; " + example)
		}
		return l, fmt.Errorf("must start with a request count; %s", example)
	}
	if count == 0 {
		return l, errors.New("the count must be at least 1 (to refuse every request, remove the route)")
	}
	if p.i < len(p.s) && p.s[p.i] == 'r' { // nginx "10r/s"
		p.i++
	}
	p.spaces()
	switch {
	case strings.HasPrefix(p.s[p.i:], "/"):
		p.i++
	case strings.HasPrefix(p.s[p.i:], "per") && (p.i+3 == len(p.s) || p.s[p.i+3] == ' ' || p.s[p.i+3] == '\t'):
		p.i += 3
	default:
		return l, fmt.Errorf("expected \"/\" or \"per\" after the count, found %s; %s", p.near(), example)
	}
	p.spaces()
	mult, ok, err := p.number("the period multiple", 1_000_000)
	if err != nil {
		return l, err
	}
	if !ok {
		mult = 1
	} else if mult == 0 {
		return l, errors.New("the period must not be zero")
	}
	p.spaces()
	at := p.i
	unit := p.word()
	var d time.Duration
	for _, u := range units {
		for _, n := range u.names {
			if unit == n {
				d = u.d
			}
		}
	}
	if d == 0 {
		p.i = at
		if unit == "" {
			return l, fmt.Errorf("expected a time unit, found %s; units are s, minute, hour, day, month, year", p.near())
		}
		return l, fmt.Errorf("unknown time unit %s; units are s, minute, hour, day, month, year", p.near())
	}
	if mult > int64(maxPeriod/d) {
		return l, fmt.Errorf("the period is too long (at most %d days)", int64(maxPeriod/(24*time.Hour)))
	}
	l.Count, l.Period = count, time.Duration(mult)*d
	if l.Period/time.Duration(l.Count) < minInterval {
		return l, errors.New("the rate is too high (at most 1000000 per second)")
	}
	p.spaces()
	if p.i == len(p.s) {
		return l, nil
	}
	if p.word() != "burst" {
		return l, fmt.Errorf("unexpected %s after the rate; only \"burst N\" may follow", p.near())
	}
	p.spaces()
	if p.i < len(p.s) && p.s[p.i] == '=' {
		p.i++
		p.spaces()
	}
	burst, ok, err := p.number("the burst", MaxBurst)
	if err != nil {
		return l, err
	}
	if !ok {
		return l, fmt.Errorf("burst needs a number, as in \"10/s burst 20\"; found %s", p.near())
	}
	p.spaces()
	if p.i != len(p.s) {
		return l, fmt.Errorf("unexpected %s after the burst", p.near())
	}
	l.Burst, l.Algorithm = burst, GCRA
	if hi, lo := bits.Mul64(uint64(burst+1), uint64(l.interval())); hi != 0 || lo > uint64(maxSpan) {
		return l, errors.New("the burst is too large for this rate (the burst may span at most 3600 days)")
	}
	return l, nil
}

// String is the canonical spelling; Parse(l.String()) == l for a valid l.
func (l Limit) String() string {
	b := strconv.AppendInt(nil, l.Count, 10)
	b = append(b, '/')
	for _, u := range units {
		if l.Period%u.d == 0 {
			if n := int64(l.Period / u.d); n != 1 {
				b = strconv.AppendInt(b, n, 10)
			}
			b = append(b, u.canon...)
			break
		}
	}
	if l.Algorithm == GCRA {
		b = append(b, " burst "...)
		b = strconv.AppendInt(b, l.Burst, 10)
	}
	return string(b)
}

// Valid reports whether l is something Parse could have returned.
func (l Limit) Valid() bool {
	if l.Count < 1 || l.Count > MaxCount || l.Period < time.Second || l.Period > maxPeriod ||
		l.Period%time.Second != 0 || l.Period/time.Duration(l.Count) < minInterval {
		return false
	}
	switch l.Algorithm {
	case FixedWindow:
		return l.Burst == 0
	case GCRA:
		hi, lo := bits.Mul64(uint64(l.Burst+1), uint64(l.interval()))
		return l.Burst >= 0 && l.Burst <= MaxBurst && hi == 0 && lo <= uint64(maxSpan)
	}
	return false
}

// interval is the GCRA emission interval: the time one request "costs".
func (l Limit) interval() time.Duration { return l.Period / time.Duration(l.Count) }

// State is what a backend stores for one limit and one key. T is the end of
// the current window (FixedWindow) or the theoretical arrival time (GCRA),
// in nanoseconds on the backend's own time line; N is the window's count.
// A state whose T is not after now is exactly equivalent to no state at all,
// which is what lets backends evict it without changing any decision.
type State struct{ T, N int64 }

// Fresh is the state of a key never seen.
var Fresh = State{T: math.MinInt64}

// Idle reports whether s carries no information at now (it may be dropped).
func (s State) Idle(now int64) bool { return s.T <= now }

// Take decides one request against l at now (nanoseconds on the same time
// line as s) and returns whether it is admitted and the state to store if it
// is. A refused request must leave the stored state unchanged.
func (l Limit) Take(s State, now int64) (ok bool, next State) {
	switch l.Algorithm {
	case GCRA:
		t := int64(l.interval())
		tat := max(s.T, now)
		if tat-now > l.Burst*t {
			return false, s
		}
		return true, State{T: tat + t}
	default:
		if s.T <= now {
			s = State{T: now + int64(l.Period)}
		}
		if s.N >= l.Count {
			return false, s
		}
		s.N++
		return true, s
	}
}

// View reports what s means to a client at now: how many requests would be
// admitted right away, when the quota is whole again, and — when none would
// be — how long until one would.
func (l Limit) View(s State, now int64) LimitState {
	switch l.Algorithm {
	case GCRA:
		t := int64(l.interval())
		tau := l.Burst * t
		d := max(s.T-now, 0)
		if d > tau {
			return LimitState{Remaining: 0, Reset: time.Duration(d), RetryAfter: time.Duration(d - tau)}
		}
		return LimitState{Remaining: (tau-d)/t + 1, Reset: time.Duration(d)}
	default:
		if s.T <= now {
			return LimitState{Remaining: l.Count, Reset: l.Period}
		}
		ls := LimitState{Remaining: l.Count - s.N, Reset: time.Duration(s.T - now)}
		if ls.Remaining <= 0 {
			ls.Remaining, ls.RetryAfter = 0, ls.Reset
		}
		return ls
	}
}
