package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"
)

// minRSABits: RFC 7518 §3.3 requires RSA keys of 2048 bits or more.
const minRSABits = 2048

// keySource hands out verification keys: a static set (secret or PEM file) or
// a refreshed JWKS.
type keySource struct {
	static []any // []byte secret, or public keys
	jwks   *jwksClient
}

func newKeySource(cfg Config, client *http.Client, logger *slog.Logger, now func() time.Time, onChange func()) (*keySource, error) {
	switch {
	case cfg.Secret != "":
		return &keySource{static: []any{[]byte(cfg.Secret)}}, nil
	case cfg.PublicKeyFile != "":
		keys, err := loadPublicKeys(cfg.PublicKeyFile)
		if err != nil {
			return nil, err
		}
		for _, alg := range cfg.Algorithms {
			if len(fitting(keys, alg)) == 0 {
				return nil, fmt.Errorf("public_key_file %s: no key fits algorithm %s", cfg.PublicKeyFile, alg)
			}
		}
		return &keySource{static: keys}, nil
	case cfg.Offline:
		return &keySource{}, nil // no keys: every token is refused
	}
	c, err := newJWKSClient(cfg, client, logger, now, onChange)
	if err != nil {
		return nil, err
	}
	return &keySource{jwks: c}, nil
}

// key is the body of the jwt.Keyfunc, after the header checks.
func (s *keySource) key(ctx context.Context, t *jwtlib.Token) (any, error) {
	alg := t.Method.Alg()
	if s.jwks != nil {
		return s.jwks.key(ctx, t, alg)
	}
	return oneOrSet(fitting(s.static, alg))
}

func (s *keySource) close() {
	if s.jwks != nil {
		s.jwks.close()
	}
}

func oneOrSet(keys []any) (any, error) {
	switch len(keys) {
	case 0:
		return nil, ErrKey
	case 1:
		return keys[0], nil
	}
	set := jwtlib.VerificationKeySet{Keys: make([]jwtlib.VerificationKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k
	}
	return set, nil
}

func fitting(keys []any, alg string) []any {
	var out []any
	for _, k := range keys {
		if fits(alg, k) {
			out = append(out, k)
		}
	}
	return out
}

// fits reports whether key may verify alg: the key type of the algorithm's
// family and, for ECDSA, the curve the algorithm names (RFC 7518 §3.4).
func fits(alg string, key any) bool {
	switch k := key.(type) {
	case []byte:
		return algFamily[alg] == "hmac"
	case *rsa.PublicKey:
		return algFamily[alg] == "rsa" && k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA" && len(k) == ed25519.PublicKeySize
	}
	return false
}

// loadPublicKeys reads every PUBLIC KEY, RSA PUBLIC KEY and CERTIFICATE block
// of a PEM file. A private key in the file is an error: the gateway needs, and
// should hold, only public keys.
func loadPublicKeys(path string) ([]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public_key_file: %w", err)
	}
	var keys []any
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var k any
		switch b.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			k, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				k = c.PublicKey
			}
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("public_key_file %s: holds a private key; give the gateway the public key only", path)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("public_key_file %s: %s block: %w", path, b.Type, err)
		}
		switch k := k.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < minRSABits {
				return nil, fmt.Errorf("public_key_file %s: RSA key of %d bits; at least %d are required (RFC 7518 §3.3)", path, k.N.BitLen(), minRSABits)
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			return nil, fmt.Errorf("public_key_file %s: unsupported key type %T", path, k)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("public_key_file " + path + ": no PEM public key found")
	}
	return keys, nil
}
