package jwt

import (
	"net/http"
	"testing"
	"time"
)

func TestRefreshInterval(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	c := &jwksClient{floor: time.Minute, ceiling: time.Hour, now: func() time.Time { return now }}
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"no cache headers: ceiling", nil, time.Hour},
		{"max-age within bounds", map[string]string{"Cache-Control": "public, max-age=600"}, 10 * time.Minute},
		{"max-age below the floor", map[string]string{"Cache-Control": "max-age=5"}, time.Minute},
		{"max-age above the ceiling (Entra ID: a day)", map[string]string{"Cache-Control": "max-age=86400"}, time.Hour},
		{"no-cache (Keycloak): floor", map[string]string{"Cache-Control": "no-cache"}, time.Minute},
		{"no-store: floor", map[string]string{"Cache-Control": "no-store, max-age=600"}, time.Minute},
		{"malformed max-age: floor", map[string]string{"Cache-Control": "max-age=soon"}, time.Minute},
		{"huge max-age is capped, no overflow", map[string]string{"Cache-Control": "max-age=99999999999999999"}, time.Hour},
		{"max-age beyond int64 means very large (RFC 9111 §1.2.2)", map[string]string{"Cache-Control": "max-age=99999999999999999999999"}, time.Hour},
		{"Expires relative to Date", map[string]string{
			"Date":    now.Add(-time.Hour).Format(http.TimeFormat),
			"Expires": now.Add(-30 * time.Minute).Format(http.TimeFormat)}, 30 * time.Minute},
		{"Expires without Date: relative to now", map[string]string{"Expires": now.Add(20 * time.Minute).Format(http.TimeFormat)}, 20 * time.Minute},
		{"invalid Expires: already expired", map[string]string{"Expires": "0"}, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			if got := c.lifetime(h); got != tt.want {
				t.Errorf("lifetime = %s, want %s", got, tt.want)
			}
		})
	}
}
