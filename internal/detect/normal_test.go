package detect

import (
	"math/rand/v2"
	"net/netip"
	"sort"
	"strconv"
	"testing"
	"time"
)

// An hour of realistic mixed traffic through the default detectors yields
// no detection at all: 1500 users (1000 of them behind 20 office NATs),
// sessions with bursts of page loads within normal limits, mobile users
// changing addresses, honest 404s on unrouted paths (old bookmarks,
// favicon), expired tokens retried after a refresh, mistyped passwords,
// and a few API clients polling steadily from one address.
func TestNormalTrafficNoDetections(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Unix(1_800_000_000, 0)
	var evs []Event
	add := func(at time.Duration, ev Event) {
		ev.Time = start.Add(at).UnixNano()
		evs = append(evs, ev)
	}
	home := func(i int) netip.Addr {
		if i < 1000 { // office users: 50 behind each NAT
			return netip.AddrFrom4([4]byte{203, 0, 113, byte(i / 50)})
		}
		return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	for u := range 1500 {
		user := "user" + strconv.Itoa(u) + "@example.com"
		principal := "u" + strconv.Itoa(u)
		addrs := []netip.Addr{home(u)}
		if u%10 == 0 { // mobile: a few addresses over the hour
			for k := range 3 {
				addrs = append(addrs, netip.AddrFrom4([4]byte{100, 64, byte(u >> 8), byte(u + k*37)}))
			}
		}
		at := time.Duration(rng.Int64N(int64(50 * time.Minute)))
		client := addrs[0]
		// Login, sometimes after a typo or two.
		for range rng.IntN(10) / 8 * (1 + rng.IntN(2)) {
			add(at, Event{Client: client, Route: 1, Login: true, Status: 401, UpstreamStatus: 401, Username: user})
			at += time.Duration(3+rng.IntN(10)) * time.Second
		}
		add(at, Event{Client: client, Route: 1, Login: true, Status: 200, UpstreamStatus: 200, Username: user})
		// A session: a few bursts of 5-40 requests (a page load), minutes apart.
		for b := range 1 + rng.IntN(6) {
			client = addrs[b%len(addrs)]
			at += time.Duration(rng.IntN(600)) * time.Second
			for range 5 + rng.IntN(36) {
				at += time.Duration(rng.IntN(200)) * time.Millisecond
				add(at, Event{Client: client, Route: 2, Status: 200, UpstreamStatus: 200, Authenticator: "jwt", Principal: principal})
			}
			if rng.IntN(4) == 0 { // an honest 404: a stale link, the favicon
				add(at, Event{Client: client, Status: 404, Refusal: "route-not-found", Path: "/favicon.ico"})
			}
			if rng.IntN(8) == 0 { // the token expired: one refusal, then a refresh
				add(at, Event{Client: client, Route: 2, Status: 401, Refusal: "invalid-token"})
				add(at+time.Second, Event{Client: client, Route: 2, Status: 200, UpstreamStatus: 200, Authenticator: "jwt", Principal: principal})
			}
			if rng.IntN(20) == 0 { // a form with a mistake
				add(at, Event{Client: client, Route: 3, Status: 400, Refusal: "request-invalid", Authenticator: "jwt", Principal: principal})
			}
		}
	}
	// Integrations polling every second from one address, all hour long.
	for k := range 3 {
		c := netip.AddrFrom4([4]byte{198, 51, 100, byte(k)})
		for s := range 3600 {
			add(time.Duration(s)*time.Second+time.Duration(k)*time.Millisecond,
				Event{Client: c, Route: 4, Status: 200, UpstreamStatus: 200, Authenticator: "api_key", Principal: "svc" + strconv.Itoa(k)})
		}
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].Time < evs[j].Time })

	h := newHarness(t, defaults())
	for i := range evs {
		h.e.st.observe(h.e, h.cfg, &evs[i])
	}
	if a := h.rec.list(); len(a) != 0 {
		t.Fatalf("%d detections on normal traffic (%d events), first: %+v", len(a), len(evs), a[0])
	}
	if n := len(h.e.Table().List()); n != 0 {
		t.Fatalf("%d blocks on normal traffic", n)
	}
	t.Logf("%d events, no detection", len(evs))
}
