package ratelimit_test

import (
	"errors"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/ratelimit"
)

func TestCompilePlacesErrorsAtTheLimit(t *testing.T) {
	cfg := &config.Config{
		File:           "rampart.yaml",
		Authenticators: map[string]*config.Authenticator{"partners": {Name: "partners", Type: "api_key"}},
		RateLimits: map[string]*config.RateLimit{
			"per_client": {Name: "per_client", Key: "client_ip", Limits: []string{"10/s burst 20", "200/fortnight"},
				LimitsPos: []config.Pos{{Line: 20, Col: 45}, {Line: 20, Col: 62}}, Pos: config.Pos{Line: 20, Col: 3}},
			"per_key": {Name: "per_key", Key: "api_key", Limits: []string{"50/hour", "50 per hour"},
				LimitsPos: []config.Pos{{Line: 21, Col: 45}, {Line: 21, Col: 56}}, Pos: config.Pos{Line: 21, Col: 3}},
		},
	}
	_, err := ratelimit.Compile(cfg)
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("Compile = %v, want two config errors", err)
	}
	want := []string{
		`rampart.yaml:20:62: rate limit "per_client": invalid rate: unknown time unit "fortnight"; units are s, minute, hour, day, month, year`,
		`rampart.yaml:21:3: rate limit "per_key": limit "50/hour" is listed twice`,
	}
	for i, e := range errs {
		if e.Error() != want[i] {
			t.Errorf("error %d:\n got %s\nwant %s", i, e.Error(), want[i])
		}
	}
}

func TestCompile(t *testing.T) {
	cfg := &config.Config{RateLimits: map[string]*config.RateLimit{
		"per_client": {Name: "per_client", Key: "client_ip", Limits: []string{"10/s burst 20", "200/day"}, Concurrency: 4},
	}}
	ps, err := ratelimit.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := ps["per_client"]
	if p == nil || len(p.Limits) != 2 || p.Limits[0].Algorithm != ratelimit.GCRA || p.Limits[1].Algorithm != ratelimit.FixedWindow || p.Concurrency != 4 {
		t.Fatalf("compiled %+v", p)
	}
}
