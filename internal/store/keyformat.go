package store

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// Key format: Prefix, IDLen base62 characters, '_', SecretLen base62
// characters. 62^43 > 2^256, so the secret carries at least 256 bits; 62^12 >
// 2^71 makes id collisions (retried anyway) vanishingly rare.
const (
	Prefix    = "rk_"
	IDLen     = 12
	SecretLen = 43
	// KeyLen is the length of every full key.
	KeyLen = len(Prefix) + IDLen + 1 + SecretLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ErrMalformed is returned by ParseKey for anything that is not a key.
var ErrMalformed = errors.New("store: malformed API key")

// randomBase62 returns n characters drawn uniformly from base62 with
// crypto/rand. Bytes >= 248 (= 4·62) are rejected so that the modulo does
// not favour the first characters.
func randomBase62(n int) (string, error) {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("store: reading random bytes: %w", err)
		}
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			out = append(out, base62[b%62])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// NewID returns a fresh public key id.
func NewID() (string, error) { return randomBase62(IDLen) }

// NewSecret returns a fresh 256-bit secret.
func NewSecret() (string, error) { return randomBase62(SecretLen) }

// FormatKey joins an id and a secret into the full key.
func FormatKey(id, secret string) string { return Prefix + id + "_" + secret }

// ParseKey splits a full key into its id and secret. It accepts exactly the
// format NewID and NewSecret produce and nothing else: no whitespace, no
// padding, no other length. It does not allocate.
func ParseKey(s string) (id, secret string, err error) {
	if len(s) != KeyLen || s[:len(Prefix)] != Prefix || s[len(Prefix)+IDLen] != '_' {
		return "", "", ErrMalformed
	}
	id = s[len(Prefix) : len(Prefix)+IDLen]
	secret = s[len(Prefix)+IDLen+1:]
	if !isBase62(id) || !isBase62(secret) {
		return "", "", ErrMalformed
	}
	return id, secret, nil
}

// ValidID reports whether id has the shape of a key id. Stores refuse
// anything else before querying.
func ValidID(id string) bool { return len(id) == IDLen && isBase62(id) }

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// defaultPepper keys the HMAC when no pepper is configured. It is public; it
// only separates Rampart's hashes from any other SHA-256 use.
const defaultPepper = "rampart api key v1"

// Hasher computes and checks stored key hashes: HMAC-SHA-256 (RFC 2104)
// keyed by the pepper over "<id>_<secret>", so a hash copied from one row to
// another (by someone with write access to the table) does not verify there.
//
// HMAC is spelled out over sha256.Sum256 instead of crypto/hmac because
// hash.Hash's interface methods make every buffer escape to the heap; this
// way checking a key on the request path does not allocate. The test suite
// checks it against crypto/hmac.
type Hasher struct {
	ipad, opad *[sha256.BlockSize]byte // the key XOR 0x36 / 0x5c; nil in the zero value
}

// NewHasher returns a Hasher keyed by pepper (nil = no pepper). A pepper
// must have at least 32 bytes.
func NewHasher(pepper []byte) (Hasher, error) {
	key := []byte(defaultPepper)
	if pepper != nil {
		if len(pepper) < 32 {
			return Hasher{}, fmt.Errorf("%w: the pepper must have at least 32 bytes", ErrInvalid)
		}
		key = pepper
	}
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	h := Hasher{ipad: new([sha256.BlockSize]byte), opad: new([sha256.BlockSize]byte)}
	copy(h.ipad[:], key)
	copy(h.opad[:], key)
	for i := range h.ipad {
		h.ipad[i] ^= 0x36
		h.opad[i] ^= 0x5c
	}
	return h, nil
}

// maxHashed bounds what sum hashes without allocating: an id and a secret
// of the standard lengths. Anything longer is not a key and never matches.
const maxHashed = IDLen + 1 + SecretLen

// Sum returns the stored hash of the key with id and secret, or nil when
// they are longer than a key's id and secret.
func (h Hasher) Sum(id, secret string) []byte {
	out, ok := h.sum(id, secret)
	if !ok {
		return nil
	}
	return out[:]
}

// sum returns HMAC(key, id "_" secret); ok is false (and the sum garbage)
// when the message is longer than maxHashed or the Hasher is the zero value.
func (h Hasher) sum(id, secret string) (out [sha256.Size]byte, ok bool) {
	if h.ipad == nil || len(id)+1+len(secret) > maxHashed {
		return out, false
	}
	var inner [sha256.BlockSize + maxHashed]byte
	n := copy(inner[:], h.ipad[:])
	n += copy(inner[n:], id)
	inner[n] = '_'
	n++
	n += copy(inner[n:], secret)
	innerSum := sha256.Sum256(inner[:n])
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], h.opad[:])
	copy(outer[sha256.BlockSize:], innerSum[:])
	return sha256.Sum256(outer[:]), true
}

// Verify reports, in constant time, whether secret is the secret of k.
func (h Hasher) Verify(k *Key, secret string) bool {
	if k == nil || len(k.Hash) != sha256.Size {
		return false
	}
	got, ok := h.sum(k.ID, secret)
	return subtle.ConstantTimeCompare(got[:], k.Hash) == 1 && ok
}

// Mint returns a new id, the full key and its stored hash.
func (h Hasher) Mint() (id, full string, sum []byte, err error) {
	if id, err = NewID(); err != nil {
		return "", "", nil, err
	}
	secret, err := NewSecret()
	if err != nil {
		return "", "", nil, err
	}
	return id, FormatKey(id, secret), h.Sum(id, secret), nil
}
