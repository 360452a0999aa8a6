package store

import (
	"encoding/json"
	"time"
)

// KeyJSON is the JSON shape of a key, as the admin API and `rampart keys
// list --json` print it. It has no field for the hash or the secret, so
// neither can be serialised by accident.
type KeyJSON struct {
	ID         string            `json:"id"`
	Consumer   string            `json:"consumer"`
	Scopes     []string          `json:"scopes"`
	Roles      []string          `json:"roles"`
	Labels     map[string]string `json:"labels"`
	Status     string            `json:"status"` // active, rotated, expired, revoked
	CreatedAt  time.Time         `json:"created_at"`
	ExpiresAt  *time.Time        `json:"expires_at"`
	LastUsedAt *time.Time        `json:"last_used_at"`
	RevokedAt  *time.Time        `json:"revoked_at"`
	RotatedTo  *string           `json:"rotated_to"`
}

// JSON returns k's JSON shape with its status at now.
func (k *Key) JSON(now time.Time) KeyJSON {
	out := KeyJSON{ID: k.ID, Consumer: k.Consumer, Scopes: k.Scopes, Roles: k.Roles, Labels: k.Labels,
		Status: k.Status(now), CreatedAt: k.CreatedAt, ExpiresAt: optTime(k.ExpiresAt),
		LastUsedAt: optTime(k.LastUsedAt), RevokedAt: optTime(k.RevokedAt)}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if k.RotatedTo != "" {
		out.RotatedTo = &k.RotatedTo
	}
	return out
}

// MarshalJSON encodes k as KeyJSON (status as of now), never its hash.
func (k *Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.JSON(time.Now())) }

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
