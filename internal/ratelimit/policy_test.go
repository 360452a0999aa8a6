package ratelimit_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/ratelimit"
)

func TestValidateNamesTheField(t *testing.T) {
	c := &ratelimit.Config{Name: "per_client", Key: "client_id", Limits: []string{"10/s burst 20", "200/fortnight", "10/s burst 20"}}
	var got []conf.FieldError
	for _, err := range c.Validate() {
		var fe *conf.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("Validate returned %T, want *conf.FieldError: %v", err, err)
		}
		got = append(got, *fe)
	}
	want := []conf.FieldError{
		{Field: "key", Index: -1, Msg: `must be client_ip, principal, api_key, route, header:NAME or claim:NAME, or several joined with + (did you mean "client_ip"?)`, Got: true},
		{Field: "limits", Index: 1, Msg: `invalid rate: unknown time unit "fortnight"; units are s, minute, hour, day, month, year`},
		{Field: "limits", Index: 2, Msg: `limit "10/s burst 20" is listed twice`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
}

func TestNew(t *testing.T) {
	c := &ratelimit.Config{Name: "per_client", Key: "client_ip", Limits: []string{"10/s burst 20", "200/day"}, Concurrency: 4}
	if _, err := ratelimit.New([]*ratelimit.Config{c}, ratelimit.Deps{}); err != nil {
		t.Fatal(err)
	}
	c.Limits = []string{"200/fortnight"}
	if _, err := ratelimit.New([]*ratelimit.Config{c}, ratelimit.Deps{}); err == nil {
		t.Fatal("New accepted an invalid rate")
	}
}
