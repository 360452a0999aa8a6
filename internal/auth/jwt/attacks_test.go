package jwt_test

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestRejectsAttacks covers the attacks of RFC 8725 §2 and the JWT CVE
// history. Each case names the reason it must be refused for, so a case that
// is refused for the wrong reason (an attack token that merely expired) fails.
func TestRejectsAttacks(t *testing.T) {
	f := newFixture(t, nil)
	now := f.clock.Now()
	rs, es, ed := f.keys["RS256"], f.keys["ES256"], f.keys["EdDSA"]

	// An attacker's server: nothing may ever contact it.
	var attackerHits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerHits.Add(1)
		w.WriteHeader(http.StatusTeapot)
	}))
	defer attacker.Close()
	evil := authtest.AttackerKey("RS256", "kid-RS256") // attacker key claiming the real kid
	evilKid := func(kid string) *authtest.Key { k := *evil; k.Kid = kid; return &k }

	claims := func(extra map[string]any) map[string]any {
		c := f.claims("victim")
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	without := func(names ...string) map[string]any {
		c := f.claims("victim")
		for _, n := range names {
			delete(c, n)
		}
		return c
	}
	b64 := base64.RawURLEncoding.EncodeToString
	parts := func(tok string) []string { return strings.Split(tok, ".") }
	sigOf := func(tok string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(parts(tok)[2])
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	resign := func(tok string, sig []byte) string { p := parts(tok); return p[0] + "." + p[1] + "." + b64(sig) }
	hdr := func(alg, kid string) map[string]any { return map[string]any{"alg": alg, "typ": "JWT", "kid": kid} }
	goodRS := authtest.Mint(t, rs, claims(nil), nil)
	goodES := authtest.Mint(t, es, claims(nil), nil)
	goodED := authtest.Mint(t, ed, claims(nil), nil)

	// HS256 keyed with the RSA public key as the IdP publishes it: the RS/HS
	// key confusion (CVE-2015-9235, CVE-2016-10555, CVE-2022-29217).
	hsWithKey := func(key []byte) string {
		h := b64([]byte(`{"alg":"HS256","typ":"JWT","kid":"kid-RS256"}`))
		p := b64(mustJSON(claims(nil)))
		m := hmac.New(sha256.New, key)
		m.Write([]byte(h + "." + p))
		return h + "." + p + "." + b64(m.Sum(nil))
	}
	rsDER, _ := x509.MarshalPKIXPublicKey(rs.Public())
	rsPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsDER})
	// A signature whose base64url has non-zero trailing bits decodes to the
	// same bytes: a second spelling of the same token (malleability).
	nonCanonical := func(tok string) string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(alphabet, tok[len(tok)-1])
		return tok[:len(tok)-1] + string(alphabet[i|1])
	}
	tamper := func(tok string) string {
		p := parts(tok)
		return p[0] + "." + b64(mustJSON(claims(map[string]any{"sub": "admin", "roles": []string{"admin"}}))) + "." + p[2]
	}
	jwe := b64([]byte(`{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"kid-RS256"}`)) + "." +
		b64(make([]byte, 256)) + "." + b64(make([]byte, 12)) + "." + b64([]byte("ciphertext")) + "." + b64(make([]byte, 16))
	jsonJWS := `{"payload":"` + parts(goodRS)[1] + `","signatures":[{"protected":"` + parts(goodRS)[0] + `","signature":"` + parts(goodRS)[2] + `"}]}`

	tests := []struct {
		name       string
		tok        string
		want       error // reason wrapped in Rejection.Err
		status     int   // 0 = 401
		typ        string
		mayRefresh bool // an unknown kid may cause (at most) one JWKS fetch
	}{
		// alg none in any letter case (RFC 8725 §2.1, CVE-2015-9235)
		{name: "alg none with empty signature", tok: authtest.Raw(hdr("none", "kid-RS256"), claims(nil), nil), want: jwt.ErrAlgorithm},
		{name: "alg None", tok: authtest.Raw(hdr("None", "kid-RS256"), claims(nil), nil), want: jwt.ErrAlgorithm},
		{name: "alg NONE", tok: authtest.Raw(hdr("NONE", "kid-RS256"), claims(nil), nil), want: jwt.ErrAlgorithm},
		{name: "alg nOnE with a signature", tok: authtest.Raw(hdr("nOnE", "kid-RS256"), claims(nil), []byte("x")), want: jwt.ErrAlgorithm},
		{name: "alg missing", tok: authtest.Raw(map[string]any{"kid": "kid-RS256"}, claims(nil), sigOf(goodRS)), want: jwt.ErrAlgorithm},
		{name: "alg not a string", tok: authtest.Raw(map[string]any{"alg": 256, "kid": "kid-RS256"}, claims(nil), sigOf(goodRS)), want: jwt.ErrAlgorithm},
		{name: "alg outside the allowlist (HS512)", tok: authtest.Raw(hdr("HS512", "kid-RS256"), claims(nil), make([]byte, 64)), want: jwt.ErrAlgorithm},

		// HS/RS key confusion
		{name: "HS256 keyed with the RSA public key PEM", tok: hsWithKey(rsPEM), want: jwt.ErrAlgorithm},
		{name: "HS256 keyed with the RSA public key DER", tok: hsWithKey(rsDER), want: jwt.ErrAlgorithm},
		{name: "HS256 keyed with the RSA modulus", tok: hsWithKey(rs.Public().(*rsa.PublicKey).N.Bytes()), want: jwt.ErrAlgorithm},

		// keys supplied by the token (RFC 8725 §3.10; CVE-2018-0114)
		{name: "jwk header with the attacker's key", tok: authtest.Mint(t, evil, claims(nil), map[string]any{"jwk": evil.JWK()}), want: jwt.ErrHeader},
		{name: "jwk header on a token the real key signed", tok: authtest.Mint(t, rs, claims(nil), map[string]any{"jwk": rs.JWK()}), want: jwt.ErrHeader},
		{name: "jku header pointing at the attacker", tok: authtest.Mint(t, evil, claims(nil), map[string]any{"jku": attacker.URL + "/jwks.json"}), want: jwt.ErrHeader},
		{name: "x5u header pointing at the attacker", tok: authtest.Mint(t, evil, claims(nil), map[string]any{"x5u": attacker.URL + "/cert.pem"}), want: jwt.ErrHeader},
		{name: "x5c header with the attacker's chain", tok: authtest.Mint(t, evil, claims(nil), map[string]any{"x5c": []string{b64(rsDER)}}), want: jwt.ErrHeader},

		// kid is only a map key: paths, SQL, URLs are unknown kids
		{name: "kid path traversal", tok: authtest.Mint(t, evilKid("../../../../../../dev/null"), claims(nil), nil), want: jwt.ErrUnknownKey, mayRefresh: true},
		{name: "kid SQL injection", tok: authtest.Mint(t, evilKid("x' UNION SELECT 'secret' --"), claims(nil), nil), want: jwt.ErrUnknownKey, mayRefresh: true},
		{name: "kid URL", tok: authtest.Mint(t, evilKid(attacker.URL+"/key.pem"), claims(nil), nil), want: jwt.ErrUnknownKey, mayRefresh: true},
		{name: "kid with CRLF and NUL", tok: authtest.Mint(t, evilKid("a\r\nX-Injected: 1\x00"), claims(nil), nil), want: jwt.ErrUnknownKey, mayRefresh: true},
		{name: "kid too long to be looked up", tok: authtest.Mint(t, evilKid(strings.Repeat("k", 300)), claims(nil), nil), want: jwt.ErrUnknownKey},
		{name: "kid not a string", tok: authtest.Mint(t, rs, claims(nil), map[string]any{"kid": 7}), want: jwt.ErrMalformed},
		{name: "attacker key under the real kid", tok: authtest.Mint(t, evil, claims(nil), nil), want: jwt.ErrSignature},
		{name: "ES256 token naming the RSA key's kid", tok: authtest.Mint(t, &authtest.Key{Alg: "ES256", Kid: "kid-RS256", Signer: es.Signer}, claims(nil), nil), want: jwt.ErrKey},

		// signatures
		{name: "psychic ECDSA signature r=s=0 (CVE-2022-21449)", tok: authtest.Raw(hdr("ES256", "kid-ES256"), claims(nil), make([]byte, 64)), want: jwt.ErrSignature},
		{name: "stripped RS256 signature", tok: resign(goodRS, nil), want: jwt.ErrSignature},
		{name: "stripped ES256 signature", tok: resign(goodES, nil), want: jwt.ErrSignature},
		{name: "stripped EdDSA signature", tok: resign(goodED, nil), want: jwt.ErrSignature},
		{name: "signature segment missing", tok: parts(goodRS)[0] + "." + parts(goodRS)[1], want: jwt.ErrMalformed},
		{name: "ES256 signature one byte short", tok: resign(goodES, sigOf(goodES)[:63]), want: jwt.ErrSignature},
		{name: "ES256 signature one byte long", tok: resign(goodES, append(sigOf(goodES), 0)), want: jwt.ErrSignature},
		{name: "ES256 signature DER-encoded", tok: resign(goodES, append([]byte{0x30, 0x44, 0x02, 0x20}, sigOf(goodES)...)), want: jwt.ErrSignature},
		{name: "RS256 signature one byte short", tok: resign(goodRS, sigOf(goodRS)[1:]), want: jwt.ErrSignature},
		{name: "RS256 signature doubled", tok: resign(goodRS, append(sigOf(goodRS), sigOf(goodRS)...)), want: jwt.ErrSignature},
		{name: "EdDSA signature one byte short", tok: resign(goodED, sigOf(goodED)[:63]), want: jwt.ErrSignature},
		{name: "payload tampered, signature kept", tok: tamper(goodRS), want: jwt.ErrSignature},
		{name: "another token's signature", tok: resign(authtest.Mint(t, rs, claims(map[string]any{"sub": "admin"}), nil), sigOf(goodRS)), want: jwt.ErrSignature},
		{name: "non-canonical base64url signature", tok: nonCanonical(goodRS), want: jwt.ErrMalformed},
		{name: "padded base64url segment", tok: goodRS + "=", want: jwt.ErrMalformed},

		// header parameters that change the rules
		{name: "crit naming an extension we do not know", tok: authtest.Mint(t, rs, claims(nil), map[string]any{"crit": []string{"http://example.com/ext"}, "http://example.com/ext": true}), want: jwt.ErrHeader},
		{name: "crit b64=false (RFC 7797 unencoded payload)", tok: authtest.Mint(t, rs, claims(nil), map[string]any{"crit": []string{"b64"}, "b64": false}), want: jwt.ErrHeader},
		{name: "empty crit", tok: authtest.Mint(t, rs, claims(nil), map[string]any{"crit": []string{}}), want: jwt.ErrHeader},
		{name: "zip (compressed) header", tok: authtest.Mint(t, rs, claims(nil), map[string]any{"zip": "DEF"}), want: jwt.ErrHeader},
		{name: "enc header on a JWS", tok: authtest.Mint(t, rs, claims(nil), map[string]any{"enc": "A256GCM"}), want: jwt.ErrHeader},
		{name: "nested JWT (cty JWT)", tok: authtest.Mint(t, rs, claims(nil), map[string]any{"cty": "JWT"}), want: jwt.ErrHeader},
		{name: "typ dpop+jwt (cross-JWT confusion)", tok: authtest.Mint(t, rs, claims(nil), map[string]any{"typ": "dpop+jwt"}), want: jwt.ErrType},
		{name: "typ logout+jwt", tok: authtest.Mint(t, rs, claims(nil), map[string]any{"typ": "logout+jwt"}), want: jwt.ErrType},
		{name: "typ not a string", tok: authtest.Mint(t, rs, claims(nil), map[string]any{"typ": 1}), want: jwt.ErrType},

		// other serializations
		{name: "JWE (5 segments)", tok: jwe, want: jwt.ErrMalformed},
		{name: "4 segments", tok: goodRS + ".x", want: jwt.ErrMalformed},
		// A JSON serialization has commas, so it reads as a list of credentials.
		{name: "JSON-serialized JWS", tok: jsonJWS, status: 400, typ: auth.TypeAmbiguousCredentials},
		{name: "flattened JSON JWS without commas", tok: `{"payload":"` + parts(goodRS)[1] + `"}`, status: 400, typ: auth.TypeMalformedCredentials},
		{name: "header not JSON", tok: b64([]byte("not json")) + "." + parts(goodRS)[1] + "." + parts(goodRS)[2], want: jwt.ErrMalformed},
		{name: "header a JSON array", tok: b64([]byte(`["alg","RS256"]`)) + "." + parts(goodRS)[1] + "." + parts(goodRS)[2], want: jwt.ErrMalformed},
		{name: "payload not JSON", tok: parts(goodRS)[0] + "." + b64([]byte("{")) + "." + parts(goodRS)[2], want: jwt.ErrMalformed},
		{name: "empty token segments", tok: "..", want: jwt.ErrMalformed},

		// registered claims
		{name: "no exp", tok: authtest.Mint(t, rs, without("exp"), nil), want: jwt.ErrClaims},
		{name: "exp as a string", tok: authtest.Mint(t, rs, claims(map[string]any{"exp": "9999999999"}), nil), want: jwt.ErrClaims},
		{name: "exp as a boolean", tok: authtest.Mint(t, rs, claims(map[string]any{"exp": true}), nil), want: jwt.ErrClaims},
		{name: "exp null", tok: authtest.Mint(t, rs, claims(map[string]any{"exp": nil}), nil), want: jwt.ErrClaims},
		{name: "nbf as a string", tok: authtest.Mint(t, rs, claims(map[string]any{"nbf": "0"}), nil), want: jwt.ErrClaims},
		{name: "iat as a string", tok: authtest.Mint(t, rs, claims(map[string]any{"iat": "0"}), nil), want: jwt.ErrClaims},
		{name: "expired an hour ago", tok: authtest.Mint(t, rs, claims(map[string]any{"exp": now.Add(-time.Hour).Unix()}), nil), want: jwt.ErrExpired},
		{name: "expired just beyond the leeway", tok: authtest.Mint(t, rs, claims(map[string]any{"exp": now.Add(-jwt.DefaultLeeway - time.Second).Unix()}), nil), want: jwt.ErrExpired},
		{name: "nbf in an hour", tok: authtest.Mint(t, rs, claims(map[string]any{"nbf": now.Add(time.Hour).Unix()}), nil), want: jwt.ErrNotYetValid},
		{name: "iat in an hour", tok: authtest.Mint(t, rs, claims(map[string]any{"iat": now.Add(time.Hour).Unix()}), nil), want: jwt.ErrIssuedInFuture},
		{name: "no iss", tok: authtest.Mint(t, rs, without("iss"), nil), want: jwt.ErrClaims},
		{name: "iss as a number", tok: authtest.Mint(t, rs, claims(map[string]any{"iss": 1}), nil), want: jwt.ErrClaims},
		{name: "aud of another service", tok: authtest.Mint(t, rs, claims(map[string]any{"aud": "billing-api"}), nil), want: jwt.ErrAudience},
		{name: "aud missing", tok: authtest.Mint(t, rs, without("aud"), nil), want: jwt.ErrClaims},
		{name: "aud empty string", tok: authtest.Mint(t, rs, claims(map[string]any{"aud": ""}), nil), want: jwt.ErrClaims},
		{name: "aud empty array", tok: authtest.Mint(t, rs, claims(map[string]any{"aud": []string{}}), nil), want: jwt.ErrClaims},
		{name: "aud array of one empty string", tok: authtest.Mint(t, rs, claims(map[string]any{"aud": []string{""}}), nil), want: jwt.ErrClaims},
		{name: "aud a number", tok: authtest.Mint(t, rs, claims(map[string]any{"aud": 42}), nil), want: jwt.ErrClaims},
		{name: "aud array with a number", tok: authtest.Mint(t, rs, claims(map[string]any{"aud": []any{authtest.Audience, 42}}), nil), want: jwt.ErrClaims},
		{name: "aud an object", tok: authtest.Mint(t, rs, claims(map[string]any{"aud": map[string]any{authtest.Audience: true}}), nil), want: jwt.ErrClaims},

		// identity claims
		{name: "no sub", tok: authtest.Mint(t, rs, without("sub"), nil), want: jwt.ErrClaims},
		{name: "empty sub", tok: authtest.Mint(t, rs, claims(map[string]any{"sub": ""}), nil), want: jwt.ErrClaims},
		{name: "sub with CRLF (header injection upstream)", tok: authtest.Mint(t, rs, claims(map[string]any{"sub": "alice\r\nX-Rampart-Roles: admin"}), nil), want: jwt.ErrClaims},
		{name: "sub a number", tok: authtest.Mint(t, rs, claims(map[string]any{"sub": 1}), nil), want: jwt.ErrClaims},
		{name: "scope a number", tok: authtest.Mint(t, rs, claims(map[string]any{"scope": 1}), nil), want: jwt.ErrClaims},
		{name: "roles an object", tok: authtest.Mint(t, rs, claims(map[string]any{"roles": map[string]any{"admin": true}}), nil), want: jwt.ErrClaims},
		{name: "roles array with a number", tok: authtest.Mint(t, rs, claims(map[string]any{"roles": []any{"user", 1}}), nil), want: jwt.ErrClaims},
		{name: "amr a string", tok: authtest.Mint(t, rs, claims(map[string]any{"amr": "mfa"}), nil), want: jwt.ErrClaims},
		{name: "acr a number", tok: authtest.Mint(t, rs, claims(map[string]any{"acr": 2}), nil), want: jwt.ErrClaims},

		// transport
		{name: "token larger than MaxTokenBytes", tok: strings.Repeat("a", auth.MaxTokenBytes) + ".b.c", status: 400, typ: auth.TypeMalformedCredentials},
		{name: "token with a space", tok: parts(goodRS)[0] + " ." + parts(goodRS)[1], status: 400, typ: auth.TypeMalformedCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.idp.JWKSHits.Load()
			p, err := f.a.Authenticate(bearer(tt.tok))
			if err == nil {
				t.Fatalf("accepted as %+v", p)
			}
			rej := rejection(t, err)
			wantStatus, wantType := tt.status, tt.typ
			if wantStatus == 0 {
				wantStatus, wantType = http.StatusUnauthorized, auth.TypeInvalidToken
			}
			if rej.Status != wantStatus || rej.Type != wantType {
				t.Errorf("rejection = %d %s, want %d %s (err %v)", rej.Status, rej.Type, wantStatus, wantType, rej.Err)
			}
			if tt.want != nil && !errors.Is(rej.Err, tt.want) {
				t.Errorf("reason = %v, want %v", rej.Err, tt.want)
			}
			if rej.Detail != "The access token is invalid." && rej.Status == 401 {
				t.Errorf("detail %q says more than it should", rej.Detail)
			}
			if got := f.idp.JWKSHits.Load() - before; got > 1 || got == 1 && !tt.mayRefresh {
				t.Errorf("JWKS fetched %d times", got)
			}
		})
	}
	if n := attackerHits.Load(); n != 0 {
		t.Errorf("the attacker's server was contacted %d times", n)
	}
	// All the unknown kids above share one cooldown: at most one fetch.
	if n := f.idp.JWKSHits.Load(); n > 2 {
		t.Errorf("JWKS fetched %d times in all (1 at start + at most 1 for unknown kids)", n)
	}
}

// TestOtherIssuer: a token naming another issuer is not this authenticator's
// (so auth.Any can route it to that issuer's authenticator), and through Any
// with no such authenticator it is a 401.
func TestOtherIssuer(t *testing.T) {
	f := newFixture(t, nil)
	for name, iss := range map[string]string{
		"another issuer":           "https://evil.example/",
		"issuer without the slash": strings.TrimSuffix(f.idp.Issuer, "/"),
		"issuer in another case":   strings.ToUpper(f.idp.Issuer),
	} {
		t.Run(name, func(t *testing.T) {
			c := f.claims("victim")
			c["iss"] = iss
			tok := authtest.Mint(t, f.keys["RS256"], c, nil)
			if _, err := f.a.Authenticate(bearer(tok)); !errors.Is(err, jwt.ErrOtherIssuer) || !errors.Is(err, auth.ErrForeignCredential) {
				t.Fatalf("Authenticate err = %v, want ErrOtherIssuer", err)
			}
			_, err := auth.Any("rampart", f.a)(bearer(tok))
			rej := rejection(t, err)
			if rej.Status != 401 || rej.Type != auth.TypeInvalidToken || !errors.Is(rej.Err, jwt.ErrOtherIssuer) {
				t.Errorf("through Any: %d %s %v", rej.Status, rej.Type, rej.Err)
			}
			if got := rej.Header.Get("WWW-Authenticate"); got != `Bearer realm="rampart", error="invalid_token"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
		})
	}
}
