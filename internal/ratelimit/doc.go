// Package ratelimit stops unrestricted resource consumption (OWASP API4) at
// the edge: named policies of rate limits and concurrency caps, keyed by who
// is calling, enforced before the upstream is reached.
//
// Users arrive with muscle memory from nginx (`limit_req rate=10r/s burst=20
// nodelay`) and Flask-Limiter (`"200 per day", "50 per hour"`), so a rate
// string means exactly what it meant there (see Parse):
//
//   - "10/s burst 20" is GCRA, the algorithm behind nginx's limit_req: at an
//     idle start B+1 simultaneous requests pass, then one every 1/R seconds.
//   - "200/day" (no burst) is Flask-Limiter's default fixed window: exactly N
//     per window, the window starting with its first request. We chose the
//     fixed window over Flask-Limiter's "moving window" because it is exact
//     in O(1) state per key (a moving window stores every timestamp), and it
//     is what Flask-Limiter users get unless they opted out.
//
// A Policy's limits are decided together and atomically (a request refused
// by one costs nothing from the others). Keys (client_ip, principal,
// api_key, route, header:NAME, claim:NAME, joined with "+") are hashed to a
// fixed size, so a huge header cannot grow a backend's memory.
//
// The package holds what every backend shares — the parser, the algorithm
// (Limit.Take, Limit.View, Decide), keys, policies and the HTTP Middleware —
// and the Limiter interface the backends implement: ratelimit/memory for one
// node, ratelimit/redis for many; ratelimit/backend opens the one the config
// names.
//
// Example, as the gateway wires a route:
//
//	be, err := backend.Open(cfg.SharedState, cfg.SharedStateFailure, cfg.SharedStateTimeout, logger)
//	mw, err := ratelimit.New([]*ratelimit.Config{cfg.RateLimits["per_client"]},
//		ratelimit.Deps{Limiter: be.Limiter, Observer: obs, Options: ratelimit.Options{InFlight: be.InFlight}})
package ratelimit
