package remoteissuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/httpcc"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/internal/issuerurl"
)

// minRSABits is the smallest RSA modulus kept.
const minRSABits = 2048

// fetch reads the discovery document if it has not been read yet, then
// the key set, and publishes the set's usable keys. It returns when the
// key set should be fetched again.
func (is *Issuer) fetch(ctx context.Context) (time.Duration, error) {
	if is.jwksURI == "" {
		uri, err := is.discover(ctx)
		if err != nil {
			return 0, err
		}
		is.jwksURI = uri
	}
	body, header, err := is.get(ctx, "key set", is.jwksURI)
	if err != nil {
		return 0, err
	}
	set, err := is.usableKeys(body)
	if err != nil {
		return 0, fmt.Errorf("key set from %s: %w", is.jwksURI, err)
	}
	is.keys.Store(&set)
	kids := keyIDs(set)
	if !slices.Equal(kids, is.kids) {
		is.logger.Load().Info("loaded the issuer's keys", zap.Strings("kids", kids))
		is.kids = kids
	}
	return is.refreshAfter(header), nil
}

// discover reads the discovery document and returns its jwks_uri.
func (is *Issuer) discover(ctx context.Context) (string, error) {
	body, _, err := is.get(ctx, "discovery document", is.discoveryURL)
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("parsing discovery document %s: %w", is.discoveryURL, err)
	}
	if doc.Issuer != is.issuer {
		return "", fmt.Errorf("discovery document %s names issuer %q, not %q; refusing it", is.discoveryURL, doc.Issuer, is.issuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("discovery document %s has no jwks_uri", is.discoveryURL)
	}
	if _, err := issuerurl.Parse(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery document %s: jwks_uri %q: %w", is.discoveryURL, doc.JWKSURI, err)
	}
	return doc.JWKSURI, nil
}

// get fetches uri, which holds what, and returns the body of a 200
// response. Every redirect must go to a URL issuerurl.Parse accepts (see
// checkingRedirects).
func (is *Issuer) get(ctx context.Context, what, uri string) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching %s: %w", what, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := is.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("fetching %s from %s: status %s", what, uri, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s from %s: %w", what, uri, err)
	}
	if len(body) > maxResponseSize {
		return nil, nil, fmt.Errorf("%s from %s is larger than %d bytes", what, uri, maxResponseSize)
	}
	return body, resp.Header, nil
}

// usableKeys parses a JWKS document and keeps the keys tokens.Verifier
// can use, logging the others. A document with no usable key is an error.
func (is *Issuer) usableKeys(body []byte) (jwk.Set, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	set := jwk.NewSet()
	for i, raw := range doc.Keys {
		key, err := jwk.ParseKey(raw)
		if err != nil {
			is.logger.Load().Info("dropped an unparsable key from the issuer's key set", zap.Int("index", i), zap.Error(err))
			continue
		}
		if secret(key) {
			is.logger.Load().Warn("dropped a key with private or secret material from the issuer's key set; the issuer is publishing secrets",
				zap.Int("index", i), zap.String("kid", key.KeyID()))
			continue
		}
		reason := unusable(key)
		if reason == "" {
			if _, dup := set.LookupKeyID(key.KeyID()); dup {
				reason = "another key has the same kid"
			}
		}
		if reason != "" {
			is.logger.Load().Info("dropped a key from the issuer's key set", zap.Int("index", i), zap.String("kid", key.KeyID()), zap.String("reason", reason))
			continue
		}
		if err := set.AddKey(key); err != nil {
			return nil, fmt.Errorf("adding key %q: %w", key.KeyID(), err)
		}
	}
	if set.Len() == 0 {
		return nil, errors.New("no usable keys (public RSA or EC keys with kid and alg RS256, PS256 or ES256)")
	}
	return set, nil
}

// secret reports whether key holds private or symmetric key material.
func secret(key jwk.Key) bool {
	if key.KeyType() == jwa.OctetSeq {
		return true
	}
	private, err := jwk.IsPrivateKey(key)
	return err != nil || private
}

// unusable says why a public key cannot verify Portcullis tokens, or
// returns "" when it can: it needs a kid, an alg among
// tokens.AllowedAlgorithms that fits its type, no use other than sig, and
// enough strength.
func unusable(key jwk.Key) string {
	if key.KeyID() == "" {
		return "no kid"
	}
	alg := key.Algorithm().String()
	if alg == "" {
		return "no alg"
	}
	if !slices.ContainsFunc(tokens.AllowedAlgorithms, func(a jwa.SignatureAlgorithm) bool { return a.String() == alg }) {
		return fmt.Sprintf("alg %s is not one of RS256, PS256, ES256", alg)
	}
	if use := key.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return fmt.Sprintf("use is %q, not sig", use)
	}
	switch k := key.(type) {
	case jwk.RSAPublicKey:
		if alg != jwa.RS256.String() && alg != jwa.PS256.String() {
			return fmt.Sprintf("alg %s does not fit an RSA key", alg)
		}
		if bits := new(big.Int).SetBytes(k.N()).BitLen(); bits < minRSABits {
			return fmt.Sprintf("RSA key has %d bits, fewer than %d", bits, minRSABits)
		}
	case jwk.ECDSAPublicKey:
		if alg != jwa.ES256.String() || k.Crv() != jwa.P256 {
			return fmt.Sprintf("alg %s does not fit an EC key on curve %s", alg, k.Crv())
		}
	default:
		return fmt.Sprintf("key type %s is not RSA or EC", key.KeyType())
	}
	return ""
}

// refreshAfter returns how long the key set in a response with header h
// stays fresh: its Cache-Control max-age clamped to [minMaxAge,
// maxMaxAge], or else the refresh interval.
func (is *Issuer) refreshAfter(h http.Header) time.Duration {
	cc := strings.Join(h.Values("Cache-Control"), ", ")
	if cc == "" {
		return is.refresh
	}
	dir, err := httpcc.ParseResponse(cc)
	if err != nil {
		return is.refresh
	}
	secs, ok := dir.MaxAge()
	if !ok {
		return is.refresh
	}
	if secs > uint64(maxMaxAge/time.Second) {
		return maxMaxAge
	}
	return max(time.Duration(secs)*time.Second, minMaxAge)
}

// keyIDs lists the kids of set, in order.
func keyIDs(set jwk.Set) []string {
	kids := make([]string, 0, set.Len())
	for i := range set.Len() {
		key, _ := set.Key(i)
		kids = append(kids, key.KeyID())
	}
	return kids
}
