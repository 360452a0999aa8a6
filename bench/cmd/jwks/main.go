// Command jwks is the benchmark's identity provider: it generates a fresh
// ECDSA P-256 key, writes one ES256 access token signed with it to -token-out,
// and serves the public key as a JWKS at /jwks (http on loopback, which
// Rampart's jwt authenticator accepts for 127.0.0.1).
//
// Only the standard library is used (the harness must not add dependencies);
// the token is built by hand, which is short for one fixed ES256 token.
//
//	jwks -listen 127.0.0.1:18002 -token-out /tmp/x/token -issuer https://bench.rampart.invalid/ -audience bench-api -scope items:read
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"flag"
	"log"
	"math/big"
	"net/http"
	"os"
	"time"
)

var b64 = base64.RawURLEncoding

// pad32 is one half of an ES256 signature as the fixed 32 bytes JOSE
// requires (RFC 7518 §3.4): big.Int.Bytes would drop leading zeros.
func pad32(n *big.Int) []byte {
	out := make([]byte, 32)
	n.FillBytes(out)
	return out
}

func main() {
	listen := flag.String("listen", "127.0.0.1:18002", "address to serve the JWKS on")
	tokenOut := flag.String("token-out", "", "file to write the signed token to (required)")
	issuer := flag.String("issuer", "https://bench.rampart.invalid/", "iss claim")
	audience := flag.String("audience", "bench-api", "aud claim")
	scope := flag.String("scope", "items:read", "scope claim (space separated)")
	subject := flag.String("subject", "bench-client", "sub claim")
	ttl := flag.Duration("ttl", 24*time.Hour, "token lifetime")
	flag.Parse()
	if *tokenOut == "" {
		log.Fatal("jwks: -token-out is required")
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatalf("jwks: %v", err)
	}
	const kid = "bench-es256"

	// Token: header.claims.signature, each base64url without padding.
	now := time.Now()
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": kid})
	claims, _ := json.Marshal(map[string]any{
		"iss":   *issuer,
		"aud":   *audience,
		"sub":   *subject,
		"scope": *scope,
		"iat":   now.Unix(),
		"nbf":   now.Add(-time.Minute).Unix(),
		"exp":   now.Add(*ttl).Unix(),
	})
	signingInput := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signingInput))
	der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		log.Fatalf("jwks: sign: %v", err)
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		log.Fatalf("jwks: sign: %v", err)
	}
	sig := append(pad32(rs.R), pad32(rs.S)...) // JWS ES256 is r||s, not ASN.1 DER
	token := signingInput + "." + b64.EncodeToString(sig)
	if err := os.WriteFile(*tokenOut, []byte(token+"\n"), 0o600); err != nil {
		log.Fatalf("jwks: %v", err)
	}

	point, err := key.PublicKey.Bytes() // 0x04 || X || Y, 32 bytes each for P-256
	if err != nil || len(point) != 65 {
		log.Fatalf("jwks: public key: %v", err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
		"x": b64.EncodeToString(point[1:33]),
		"y": b64.EncodeToString(point[33:]),
	}}})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// A long cache lifetime: the gateway should fetch once and never
		// during a measured run.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(jwks)
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
