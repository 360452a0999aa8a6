// Package authtest runs a real identity provider for tests: an httptest TLS
// server with OpenID Connect discovery, a JWKS endpoint whose keys can be
// rotated or taken down, and an RFC 7662 introspection endpoint, each counting
// its requests. It mints tokens with golang-jwt, and raw tokens by hand for
// the attacks a library refuses to sign.
//
// Keys are generated per process; RSA keys are generated once and shared,
// because 2048-bit generation is slow.
package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"
)

// Audience is the audience IdP.Claims puts in tokens.
const Audience = "inventory-api"

// Key is a signing key with its JWK metadata.
type Key struct {
	Kid    string
	Alg    string // RS256, PS256, ES256, ES384, EdDSA, HS256, …
	Signer any    // *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, or []byte for HS*
	// JWKAlg is the "alg" member published in the JWK; "" = Alg. Set to "-"
	// to publish no alg.
	JWKAlg string
	// Use is the "use" member published; "" = "sig", "-" = none.
	Use string
}

var (
	rsaOnce sync.Once
	rsaKeys [5]*rsa.PrivateKey // the last is reserved for AttackerKey
)

func rsaKey(i int) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		var wg sync.WaitGroup
		for j := range rsaKeys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					panic(err)
				}
				rsaKeys[j] = k
			}()
		}
		wg.Wait()
	})
	return rsaKeys[i]
}

var rsaNext atomic.Int64

// NewKey returns a fresh key for alg. RSA keys come from a small pool, so two
// RSA keys from NewKey may share material after the fourth: tests that need
// distinct RSA keys should use at most four.
func NewKey(alg, kid string) *Key {
	k := &Key{Kid: kid, Alg: alg}
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k.Signer = rsaKey(int(rsaNext.Add(1)-1) % (len(rsaKeys) - 1))
	case "ES256":
		k.Signer = mustEC(elliptic.P256())
	case "ES384":
		k.Signer = mustEC(elliptic.P384())
	case "ES512":
		k.Signer = mustEC(elliptic.P521())
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		k.Signer = priv
	case "HS256", "HS384", "HS512":
		b := make([]byte, 64)
		_, _ = rand.Read(b)
		k.Signer = b
	default:
		panic("authtest: unknown alg " + alg)
	}
	return k
}

// AttackerKey returns a key for alg that no IdP publishes (for RSA, one that
// NewKey never hands out), labelled with kid.
func AttackerKey(alg, kid string) *Key {
	k := NewKey(alg, kid)
	if _, ok := k.Signer.(*rsa.PrivateKey); ok {
		k.Signer = rsaKey(len(rsaKeys) - 1)
	}
	return k
}

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// Public returns the verification key (the secret for HS*).
func (k *Key) Public() any {
	if s, ok := k.Signer.(crypto.Signer); ok {
		return s.Public()
	}
	return k.Signer
}

// JWK returns the key's public JWK, written by hand from the key material
// (independently of the JOSE libraries under test).
func (k *Key) JWK() map[string]any {
	m := map[string]any{}
	if k.Kid != "" {
		m["kid"] = k.Kid
	}
	switch alg := k.JWKAlg; alg {
	case "":
		m["alg"] = k.Alg
	case "-":
	default:
		m["alg"] = alg
	}
	switch use := k.Use; use {
	case "":
		m["use"] = "sig"
	case "-":
	default:
		m["use"] = use
	}
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(pub.N.Bytes())
		m["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		m["kty"] = "EC"
		m["crv"] = pub.Curve.Params().Name
		size := (pub.Curve.Params().BitSize + 7) / 8
		m["x"] = b64(pub.X.FillBytes(make([]byte, size)))
		m["y"] = b64(pub.Y.FillBytes(make([]byte, size)))
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = b64(pub)
	case []byte:
		m["kty"] = "oct"
		m["k"] = b64(pub)
	}
	return m
}

// Mint signs claims with k using golang-jwt, adding kid (when k has one) and
// any extra header parameters (a nil value deletes a parameter).
func Mint(t testing.TB, k *Key, claims jwtlib.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwtlib.NewWithClaims(jwtlib.GetSigningMethod(k.Alg), claims)
	if k.Kid != "" {
		tok.Header["kid"] = k.Kid
	}
	for name, v := range header {
		if v == nil {
			delete(tok.Header, name)
			continue
		}
		tok.Header[name] = v
	}
	s, err := tok.SignedString(k.Signer)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return s
}

// Raw builds a compact token from a header and claims of any shape and a raw
// signature: the attacks that no library will sign.
func Raw(header, claims any, sig []byte) string {
	enc := func(v any) string {
		if s, ok := v.(string); ok {
			return base64.RawURLEncoding.EncodeToString([]byte(s))
		}
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// IdP is a running identity provider.
type IdP struct {
	Server *httptest.Server
	Issuer string // the server URL with a trailing slash, like Auth0's

	DiscoveryHits  atomic.Int64
	JWKSHits       atomic.Int64
	IntrospectHits atomic.Int64

	// JWKSHit receives one value per JWKS request (non-blocking; buffered),
	// so tests wait for a refresh by event, not by sleeping.
	JWKSHit chan struct{}

	mu           sync.Mutex
	keys         []*Key
	jwksStatus   int    // 0 = 200
	cacheControl string // Cache-Control on the JWKS response
	discovery    map[string]any
	introspect   func(token string) (status int, body any)
	introspectCh chan struct{} // when non-nil, introspection waits for it to close
	release      func()
}

// NewIdP starts an IdP publishing keys. Its client trusts the server's
// certificate (Server.Client()).
func NewIdP(t testing.TB, keys ...*Key) *IdP {
	t.Helper()
	idp := &IdP{keys: keys, JWKSHit: make(chan struct{}, 1024)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		idp.DiscoveryHits.Add(1)
		idp.mu.Lock()
		doc := map[string]any{"issuer": idp.Issuer, "jwks_uri": idp.Server.URL + "/jwks",
			"introspection_endpoint": idp.Server.URL + "/introspect"}
		for k, v := range idp.discovery {
			doc[k] = v
		}
		idp.mu.Unlock()
		writeJSON(w, http.StatusOK, doc)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		idp.JWKSHits.Add(1)
		defer func() {
			select {
			case idp.JWKSHit <- struct{}{}:
			default:
			}
		}()
		idp.mu.Lock()
		status, cc := idp.jwksStatus, idp.cacheControl
		set := make([]map[string]any, 0, len(idp.keys))
		for _, k := range idp.keys {
			set = append(set, k.JWK())
		}
		idp.mu.Unlock()
		if status != 0 && status != http.StatusOK {
			http.Error(w, "down", status)
			return
		}
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		writeJSON(w, http.StatusOK, map[string]any{"keys": set})
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		idp.IntrospectHits.Add(1)
		idp.mu.Lock()
		f, wait := idp.introspect, idp.introspectCh
		idp.mu.Unlock()
		if wait != nil {
			<-wait
		}
		id, secret, ok := r.BasicAuth()
		if !ok || id != "rampart" || secret != IntrospectSecret {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token_type_hint") != "access_token" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
			return
		}
		if f == nil {
			writeJSON(w, http.StatusOK, map[string]any{"active": false})
			return
		}
		status, body := f(r.PostForm.Get("token"))
		if s, ok := body.(string); ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(s))
			return
		}
		writeJSON(w, status, body)
	})
	idp.Server = httptest.NewTLSServer(mux)
	idp.Issuer = idp.Server.URL + "/"
	t.Cleanup(func() {
		idp.mu.Lock()
		release := idp.release
		idp.mu.Unlock()
		if release != nil {
			release() // a held request would block Close forever
		}
		idp.Server.Close()
	})
	return idp
}

// IntrospectSecret is the client secret the IdP's introspection endpoint
// expects from client "rampart".
const IntrospectSecret = "s3cr3t-introspection-credential-for-tests"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// JWKSURL is the IdP's JWKS endpoint.
func (idp *IdP) JWKSURL() string { return idp.Server.URL + "/jwks" }

// IntrospectionURL is the IdP's introspection endpoint.
func (idp *IdP) IntrospectionURL() string { return idp.Server.URL + "/introspect" }

// Publish replaces the published key set (key rotation).
func (idp *IdP) Publish(keys ...*Key) {
	idp.mu.Lock()
	idp.keys = keys
	idp.mu.Unlock()
}

// SetJWKSStatus makes the JWKS endpoint answer status (0 or 200 = normal).
func (idp *IdP) SetJWKSStatus(status int) {
	idp.mu.Lock()
	idp.jwksStatus = status
	idp.mu.Unlock()
}

// SetCacheControl sets the JWKS response's Cache-Control.
func (idp *IdP) SetCacheControl(v string) {
	idp.mu.Lock()
	idp.cacheControl = v
	idp.mu.Unlock()
}

// SetDiscovery overrides members of the discovery document.
func (idp *IdP) SetDiscovery(doc map[string]any) {
	idp.mu.Lock()
	idp.discovery = doc
	idp.mu.Unlock()
}

// SetIntrospect sets the introspection answer for each token; body is JSON
// encoded unless it is a string, which is sent verbatim.
func (idp *IdP) SetIntrospect(f func(token string) (status int, body any)) {
	idp.mu.Lock()
	idp.introspect = f
	idp.mu.Unlock()
}

// HoldIntrospection makes introspection requests wait until the returned
// function is called (at the latest when the test ends).
func (idp *IdP) HoldIntrospection() (release func()) {
	ch := make(chan struct{})
	var once sync.Once
	release = func() {
		once.Do(func() {
			idp.mu.Lock()
			idp.introspectCh = nil
			idp.mu.Unlock()
			close(ch)
		})
	}
	idp.mu.Lock()
	idp.introspectCh = ch
	idp.release = release
	idp.mu.Unlock()
	return release
}

// Claims returns the claims of a valid access token for sub at now, issued by
// the IdP for Audience and expiring in an hour.
func (idp *IdP) Claims(sub string, now time.Time) jwtlib.MapClaims {
	return jwtlib.MapClaims{
		"iss": idp.Issuer,
		"aud": Audience,
		"sub": sub,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"jti": fmt.Sprintf("%s-%d", sub, now.UnixNano()),
	}
}
