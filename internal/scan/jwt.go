package scan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// The token probes need no key: they build tokens a correct verifier must
// refuse (RFC 8725 §2 lists these attacks) from base64url JSON alone.

// jwtParts is a decoded compact JWS.
type jwtParts struct {
	header    map[string]any
	claims    map[string]any
	rawHeader string
	rawClaims string
	signature string // base64url, as received
}

var b64 = base64.RawURLEncoding

// parseJWT decodes a compact JWS without verifying it. Only for building
// probes from the user's own --token.
func parseJWT(tok string) (*jwtParts, error) {
	if len(tok) > 16<<10 {
		return nil, errors.New("token longer than 16 KiB")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS (three dot-separated parts)")
	}
	j := &jwtParts{rawHeader: parts[0], rawClaims: parts[1], signature: parts[2]}
	for i, dst := range []*map[string]any{&j.header, &j.claims} {
		raw, err := b64.DecodeString(strings.TrimRight(parts[i], "="))
		if err != nil {
			return nil, errors.New("a part is not base64url")
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil || *dst == nil {
			return nil, errors.New("a part is not a JSON object")
		}
	}
	return j, nil
}

func encodeSegment(v map[string]any) string {
	b, _ := json.Marshal(v) // map keys are sorted: deterministic
	return b64.EncodeToString(b)
}

// expiry returns the exp claim, and false when absent or not a number.
func (j *jwtParts) expiry() (time.Time, bool) {
	n, ok := j.claims["exp"].(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// scopes reads scope (space-separated) and scp (list or string) claims.
func (j *jwtParts) scopes() ([]string, bool) {
	var out []string
	found := false
	for _, name := range []string{"scope", "scp", "scopes"} {
		switch v := j.claims[name].(type) {
		case string:
			found = true
			out = append(out, strings.Fields(v)...)
		case []any:
			found = true
			for _, e := range v {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), found
}

// roles reads roles/role/groups claims.
func (j *jwtParts) roles() []string {
	var out []string
	for _, name := range []string{"roles", "role", "groups"} {
		switch v := j.claims[name].(type) {
		case string:
			out = append(out, strings.Fields(v)...)
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// forged is one probe token with a description for the evidence (the token
// itself is never shown: it may carry the user's claims and signature).
type forged struct {
	rule  string
	token string
	note  string
}

// forgeTokens builds the probes. base is the user's --token (nil without one).
// Synthetic claims are valid for an hour from now.
func forgeTokens(base *jwtParts, now time.Time) []forged {
	header := map[string]any{"alg": "HS256", "typ": "JWT"}
	claims := map[string]any{"sub": "rampart-scan", "iat": now.Unix(), "nbf": now.Unix() - 60, "exp": now.Add(time.Hour).Unix()}
	origin := "synthetic claims (sub \"rampart-scan\", valid for an hour)"
	signature := b64.EncodeToString([]byte("rampart-scan-not-a-signature"))
	if base != nil {
		header = maps(base.header)
		claims = maps(base.claims)
		origin = "the claims of --token"
		signature = base.signature
		if exp, ok := base.expiry(); ok && exp.Before(now) {
			// A re-dated copy for the alg/signature probes; the expired
			// original is the expiry probe itself.
			claims["exp"] = now.Add(time.Hour).Unix()
			origin = "the claims of --token, exp moved an hour ahead"
		}
	}
	var out []forged
	for _, alg := range []string{"none", "None", "NONE"} {
		h := maps(header)
		h["alg"] = alg
		delete(h, "kid")
		out = append(out, forged{rule: "AUTH002", token: encodeSegment(h) + "." + encodeSegment(claims) + ".",
			note: "forged JWT: alg \"" + alg + "\", empty signature, " + origin})
	}
	hdr, cl := encodeSegment(header), encodeSegment(claims)
	if base != nil && !isExpired(base, now) {
		hdr, cl = base.rawHeader, base.rawClaims // the genuine token minus its signature
	}
	out = append(out, forged{rule: "AUTH003", token: hdr + "." + cl + ".",
		note: "forged JWT: alg \"" + str(header["alg"]) + "\" with the signature removed, " + origin})

	if base != nil && isExpired(base, now) {
		out = append(out, forged{rule: "AUTH004", token: base.rawHeader + "." + base.rawClaims + "." + base.signature,
			note: "--token as given: it expired at " + mustExpiry(base).UTC().Format(time.RFC3339)})
	} else {
		expired := maps(claims)
		expired["exp"] = now.Add(-time.Hour).Unix()
		expired["iat"] = now.Add(-2 * time.Hour).Unix()
		delete(expired, "nbf")
		out = append(out, forged{rule: "AUTH004", token: encodeSegment(header) + "." + encodeSegment(expired) + "." + signature,
			note: "forged JWT: " + origin + " with exp an hour in the past, original signature (no key needed)"})
	}
	if base != nil && !isExpired(base, now) {
		if sig, err := b64.DecodeString(strings.TrimRight(base.signature, "=")); err == nil && len(sig) > 0 {
			// Flip a bit of the first signature byte: changing the last
			// base64url character may only touch padding bits and decode to
			// the same signature.
			sig[0] ^= 0x01
			out = append(out, forged{rule: "AUTH005", token: base.rawHeader + "." + base.rawClaims + "." + b64.EncodeToString(sig),
				note: "--token with one bit of its signature flipped"})
		}
	}
	return out
}

func isExpired(j *jwtParts, now time.Time) bool {
	exp, ok := j.expiry()
	return ok && exp.Before(now)
}

func mustExpiry(j *jwtParts) time.Time {
	exp, _ := j.expiry()
	return exp
}

func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
