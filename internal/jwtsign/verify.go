package jwtsign

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// noModTime tells http.ServeContent not to send Last-Modified.
var noModTime time.Time

// Leeway is the clock skew Verify tolerates on exp, nbf and iat.
const Leeway = 60 * time.Second

// ErrInvalidToken is wrapped by every error Verify returns.
var ErrInvalidToken = errors.New("invalid token")

// Verify checks a compact JWS against a JSON Web Key Set and returns its
// claims. It is the reference check a vendor performs and is meant for
// tests and fakes: only RS256 is accepted; the header must carry a kid that
// names an RSA key of the set (keys with another alg or with use other than
// "sig" are skipped); the signature must verify; exp is required and, like
// nbf and iat when present, is checked against now with Leeway. Numbers in
// the returned claims are float64, as encoding/json decodes them.
func Verify(jwks []byte, token string, now time.Time) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, invalid("not a compact JWS (want 3 parts, got %d)", len(parts))
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	if err := decodePart(parts[0], &h); err != nil {
		return nil, invalid("header: %v", err)
	}
	if h.Alg != "RS256" {
		return nil, invalid("alg %q is not RS256", h.Alg)
	}
	if h.Kid == "" {
		return nil, invalid("header has no kid")
	}
	pub, err := findKey(jwks, h.Kid)
	if err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, invalid("signature is not base64url: %v", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, invalid("signature does not verify with key %s", h.Kid)
	}
	var claims map[string]any
	if err := decodePart(parts[1], &claims); err != nil {
		return nil, invalid("claims: %v", err)
	}
	if claims == nil {
		return nil, invalid("claims are not a JSON object")
	}
	exp, ok, err := numericDate(claims, "exp")
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, invalid("no exp claim")
	} else if !now.Before(exp.Add(Leeway)) {
		return nil, invalid("expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if nbf, ok, err := numericDate(claims, "nbf"); err != nil {
		return nil, err
	} else if ok && now.Add(Leeway).Before(nbf) {
		return nil, invalid("not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	if iat, ok, err := numericDate(claims, "iat"); err != nil {
		return nil, err
	} else if ok && now.Add(Leeway).Before(iat) {
		return nil, invalid("issued in the future (%s)", iat.UTC().Format(time.RFC3339))
	}
	return claims, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

func decodePart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("not base64url: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	return nil
}

func findKey(jwks []byte, kid string) (*rsa.PublicKey, error) {
	var set jwkSet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("jwtsign: key set is not JSON: %w", err)
	}
	for _, k := range set.Keys {
		if k.Kid != kid || k.Kty != "RSA" || (k.Alg != "" && k.Alg != "RS256") || (k.Use != "" && k.Use != "sig") {
			continue
		}
		n, err := base64.RawURLEncoding.DecodeString(k.N)
		if err != nil || len(n) == 0 {
			return nil, invalid("key %s: bad n", kid)
		}
		e, err := base64.RawURLEncoding.DecodeString(k.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, invalid("key %s: bad e", kid)
		}
		ei := new(big.Int).SetBytes(e).Int64()
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ei)}, nil
	}
	return nil, invalid("no RS256 signing key with kid %q in the key set", kid)
}

// numericDate reads an RFC 7519 NumericDate claim.
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false, invalid("%s is not a number", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}
