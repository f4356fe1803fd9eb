package tokens

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// MaxTokenSize bounds the tokens Verify reads, in bytes.
const MaxTokenSize = 16 << 10

// MaxLeeway is the largest clock skew Verify tolerates on exp, nbf and iat.
const MaxLeeway = 60 * time.Second

// AllowedAlgorithms are the only signature algorithms Verify accepts. The
// key's own alg decides how a signature is checked, so a token cannot
// choose HMAC with a public key, or none.
var AllowedAlgorithms = []jwa.SignatureAlgorithm{jwa.RS256, jwa.PS256, jwa.ES256}

// KeySource yields the public keys to verify with. *keys.Ring and the
// authorization server's signing.Keyring implement it; keys must carry
// kid and alg.
type KeySource interface {
	PublicKeys() jwk.Set
}

// KeyRefresher is a KeySource that can look for keys it does not have yet,
// such as a remote issuer's JWKS after a rotation. Verify calls
// RefreshForKID when a token names an unknown kid, then looks again; the
// source decides how often it really fetches.
type KeyRefresher interface {
	KeySource
	RefreshForKID(ctx context.Context, kid string)
}

// Verifier checks access tokens of one issuer.
type Verifier struct {
	Issuer string
	Keys   KeySource
	// Leeway is the clock skew tolerated; at most MaxLeeway. Default 0.
	Leeway time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Claims are the verified contents of an access token.
type Claims struct {
	Token jwt.Token
	// All is every claim as the token has it, decoded by encoding/json
	// (numbers as json.Number).
	All map[string]any
	// KID and Type are from the protected header.
	KID  string
	Type string
	// Subject is sub; ClientID is client_id (RFC 9068) or azp (Auth0).
	Subject     string
	ClientID    string
	GrantType   string
	Scopes      []string
	Permissions []string
	// CertThumbprint is cnf.x5t#S256 of a certificate-bound token (RFC
	// 8705): the token is only good with that client certificate.
	CertThumbprint string
}

// CertificateThumbprint is cnf.x5t#S256, or "" for a token not bound to a
// certificate.
func (c *Claims) CertificateThumbprint() string { return c.CertThumbprint }

// IsMachineToMachine reports whether the token was issued to a client for
// itself (client credentials: gty, or Auth0's sub of client_id@clients)
// rather than to a user.
func (c *Claims) IsMachineToMachine() bool {
	return c.GrantType == GTYClientCC || (c.ClientID != "" && c.Subject == c.ClientID+"@clients")
}

// HasScope reports whether the token's scope claim lists s.
func (c *Claims) HasScope(s string) bool { return slices.Contains(c.Scopes, s) }

// ErrInvalidToken matches (errors.Is) every error Verify returns.
var ErrInvalidToken = errors.New("invalid token")

// Cause names why a token was refused, in a word fit for a metrics label.
type Cause string

// Causes of refusal.
const (
	CauseMalformed      Cause = "malformed"
	CauseAlgorithm      Cause = "algorithm"
	CauseHeader         Cause = "header"
	CauseUnknownKey     Cause = "unknown_kid"
	CauseSignature      Cause = "signature"
	CauseExpired        Cause = "expired"
	CauseNotYetValid    Cause = "not_yet_valid"
	CauseIssuedInFuture Cause = "issued_in_future"
	CauseIssuer         Cause = "wrong_issuer"
	CauseAudience       Cause = "wrong_audience"
	CauseClaims         Cause = "invalid_claims"
)

// Error is a refused token. Description is fixed text, never content from
// the token, so it is safe in an error_description.
type Error struct {
	Cause       Cause
	Description string
}

func (e *Error) Error() string { return "invalid token: " + e.Description }

// Is makes every *Error match ErrInvalidToken.
func (e *Error) Is(target error) bool { return target == ErrInvalidToken }

func invalid(cause Cause, description string) error {
	return &Error{Cause: cause, Description: description}
}

// Parsed is a token split and decoded but not verified: Parse's result,
// for VerifyParsed, so that a caller choosing the Verifier by issuer reads
// the token once. Nothing in it is to be trusted before VerifyParsed.
type Parsed struct {
	token           string
	header, payload []byte
	claims          map[string]any // the payload decoded; nil when it is no JSON object
}

// Parse reads the token's compact serialization (size, three segments, each
// canonical base64url) and decodes its claims, for Issuer and VerifyParsed.
// Its errors wrap ErrInvalidToken.
func Parse(token string) (*Parsed, error) {
	if len(token) > MaxTokenSize {
		return nil, invalid(CauseMalformed, fmt.Sprintf("token is larger than %d bytes", MaxTokenSize))
	}
	header, payload, err := compactSegments(token)
	if err != nil {
		return nil, err
	}
	p := &Parsed{token: token, header: header, payload: payload}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if dec.Decode(&claims) == nil && !dec.More() {
		p.claims = claims
	}
	return p, nil
}

// Issuer returns the iss claim, unverified, to choose the Verifier of that
// issuer. Never trust it otherwise. It is an error when the claims are no
// JSON object or iss is not a string.
func (p *Parsed) Issuer() (string, error) {
	if p.claims == nil {
		return "", invalid(CauseMalformed, "malformed token")
	}
	iss, ok := p.claims["iss"]
	if !ok {
		return "", nil
	}
	s, ok := iss.(string)
	if !ok {
		return "", invalid(CauseMalformed, "malformed token")
	}
	return s, nil
}

// Verify checks the token's size and form (compact serialization, each
// segment canonical base64url, no JSON object with a member twice), header
// (allowed alg, kid, typ, no crit: no extension is understood), signature, issuer, that audience is among its
// audiences, and its exp/nbf/iat against the clock; RFC 9068 tokens (typ at+jwt) must also carry
// client_id and jti. Errors wrap ErrInvalidToken and say what failed, in
// words fit for an error_description. It is Parse then VerifyParsed.
func (v *Verifier) Verify(ctx context.Context, token, audience string) (*Claims, error) {
	p, err := Parse(token)
	if err != nil {
		return nil, err
	}
	return v.VerifyParsed(ctx, p, audience)
}

// VerifyParsed is Verify for a token Parse has read.
func (v *Verifier) VerifyParsed(ctx context.Context, p *Parsed, audience string) (*Claims, error) {
	token, rawHeader, rawPayload := p.token, p.header, p.payload
	// jwx keeps the last of duplicate members silently; another reader
	// (an upstream, a log) may keep the first.
	if hasDuplicateMembers(rawHeader) {
		return nil, invalid(CauseHeader, "token header has duplicate members")
	}
	if hasDuplicateMembers(rawPayload) {
		return nil, invalid(CauseClaims, "token claims have duplicate members")
	}
	// jwx ignores crit; RFC 7515 makes it the recipient's to honour.
	if err := checkCritical(rawHeader); err != nil {
		return nil, err
	}
	msg, err := jws.ParseString(token)
	if err != nil {
		return nil, invalid(CauseMalformed, "malformed token")
	}
	if len(msg.Signatures()) != 1 {
		return nil, invalid(CauseMalformed, "token must have exactly one signature")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	if !slices.Contains(AllowedAlgorithms, hdr.Algorithm()) {
		return nil, invalid(CauseAlgorithm, "signing algorithm is not allowed")
	}
	if hdr.KeyID() == "" {
		return nil, invalid(CauseHeader, "token header has no kid")
	}
	typ := hdr.Type()
	if typ != TypeJWT && typ != TypeATJWT && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, invalid(CauseHeader, "token type is not an access token")
	}
	if hdr.JWK() != nil || hdr.JWKSetURL() != "" || hdr.X509URL() != "" || (hdr.X509CertChain() != nil && hdr.X509CertChain().Len() > 0) {
		return nil, invalid(CauseHeader, "token header must not carry keys (jwk, jku, x5u, x5c)")
	}
	keys := v.Keys.PublicKeys()
	if _, ok := keys.LookupKeyID(hdr.KeyID()); !ok {
		r, ok := v.Keys.(KeyRefresher)
		if !ok {
			return nil, invalid(CauseUnknownKey, "unknown signing key")
		}
		r.RefreshForKID(ctx, hdr.KeyID())
		keys = v.Keys.PublicKeys()
		if _, ok := keys.LookupKeyID(hdr.KeyID()); !ok {
			return nil, invalid(CauseUnknownKey, "unknown signing key")
		}
	}
	leeway := min(v.Leeway, MaxLeeway)
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tok, err := jwt.Parse([]byte(token),
		jwt.WithKeySet(keys, jws.WithRequireKid(true)),
		jwt.WithValidate(true),
		jwt.WithIssuer(v.Issuer),
		jwt.WithAudience(audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithAcceptableSkew(leeway),
		jwt.WithClock(jwt.ClockFunc(now)),
	)
	if err != nil {
		return nil, describe(err)
	}
	if p.claims == nil { // jwx read them: encoding/json should have too
		return nil, invalid(CauseMalformed, "token claims cannot be read")
	}
	c := &Claims{Token: tok, All: p.claims, KID: hdr.KeyID(), Type: typ, Subject: tok.Subject()}
	c.ClientID = stringClaim(tok, "client_id")
	if c.ClientID == "" {
		c.ClientID = stringClaim(tok, "azp")
	}
	c.GrantType = stringClaim(tok, "gty")
	c.Scopes = strings.Fields(stringClaim(tok, "scope"))
	if v, ok := tok.Get("permissions"); ok {
		list, ok := v.([]any)
		if !ok {
			return nil, invalid(CauseClaims, "permissions claim is not an array")
		}
		for _, p := range list {
			s, ok := p.(string)
			if !ok {
				return nil, invalid(CauseClaims, "permissions claim holds a non-string")
			}
			c.Permissions = append(c.Permissions, s)
		}
	}
	if v, ok := tok.Get("cnf"); ok {
		cnf, ok := v.(map[string]any)
		thumb, _ := cnf["x5t#S256"].(string)
		if !ok || thumb == "" {
			return nil, invalid(CauseClaims, "cnf claim has no x5t#S256 certificate thumbprint")
		}
		c.CertThumbprint = thumb
	}
	if typ != TypeJWT && (stringClaim(tok, "client_id") == "" || tok.JwtID() == "" || tok.Subject() == "") {
		return nil, invalid(CauseClaims, "RFC 9068 token lacks sub, client_id or jti")
	}
	return c, nil
}

// standardHeaders are the header parameters RFC 7515 section 4.1 defines
// for JWS, which a crit list must never name.
var standardHeaders = []string{"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"}

// checkCritical applies RFC 7515 section 4.1.11 to a JOSE header: a JWS
// whose crit lists an extension the recipient does not understand is
// invalid, and Verify understands none, so any crit is refused. The
// description tells a well-formed crit (a non-empty list of distinct
// extension names, each a member of the header) from a malformed one.
func checkCritical(rawHeader []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(rawHeader, &members); err != nil {
		return invalid(CauseMalformed, "malformed token")
	}
	raw, ok := members["crit"]
	if !ok {
		return nil
	}
	malformed := invalid(CauseHeader, "token header has a malformed crit")
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil || len(names) == 0 {
		return malformed
	}
	for i, name := range names {
		_, present := members[name]
		if !present || slices.Contains(standardHeaders, name) || slices.Contains(names[:i], name) {
			return malformed
		}
	}
	return invalid(CauseHeader, "token header lists critical extensions that are not supported")
}

// compactSegments decodes the header and payload of a JWS in compact
// serialization, the only one Verify takes. Each of the three segments must
// be canonical unpadded base64url: Go's decoder otherwise ignores the
// unused low bits of a segment's last character, so one token would have
// several spellings, all of them valid.
func compactSegments(token string) (header, payload []byte, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, invalid(CauseMalformed, "malformed token")
	}
	decoded := make([][]byte, 3)
	for i, p := range parts {
		if decoded[i], err = base64.RawURLEncoding.Strict().DecodeString(p); err != nil {
			return nil, nil, invalid(CauseMalformed, "malformed token")
		}
	}
	return decoded[0], decoded[1], nil
}

// hasDuplicateMembers reports whether the JSON document data has an object,
// at any depth, with two members of the same name (after unescaping: "a"
// and "\u0061" are the same name). It reports false for anything that is
// not JSON, which the parsers after it refuse. It allocates only for
// objects of more than 16 members and names written with escapes.
func hasDuplicateMembers(data []byte) bool {
	d := dupScanner{data: data}
	dup := d.value()
	return dup && d.err == nil
}

// dupScanner walks a JSON document for hasDuplicateMembers; err is set at
// the first thing that is not JSON, after which it only unwinds.
type dupScanner struct {
	data []byte
	pos  int
	err  error
}

var errNotJSON = errors.New("not JSON")

// next is the next byte after white space, or 0 at the end.
func (d *dupScanner) next() byte {
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; c {
		case ' ', '\t', '\r', '\n':
			d.pos++
		default:
			return c
		}
	}
	d.err = errNotJSON
	return 0
}

// value skips one value and reports whether an object in it repeats a
// member name.
func (d *dupScanner) value() bool {
	switch d.next() {
	case '{':
		d.pos++
		return d.object()
	case '[':
		d.pos++
		if d.next() == ']' {
			d.pos++
			return false
		}
		for d.err == nil {
			if d.value() {
				return true
			}
			switch d.next() {
			case ',':
				d.pos++
			case ']':
				d.pos++
				return false
			default:
				d.err = errNotJSON
			}
		}
		return false
	case '"':
		d.str()
		return false
	case 0:
		return false
	}
	for d.pos < len(d.data) && !strings.ContainsRune(",:]} \t\r\n", rune(d.data[d.pos])) {
		d.pos++ // a number, true, false or null: its validity is the parsers' to check
	}
	return false
}

// object reads the members of an object after its {.
func (d *dupScanner) object() bool {
	var room [16][]byte
	names := room[:0]
	if d.next() == '}' {
		d.pos++
		return false
	}
	for d.err == nil {
		if d.next() != '"' {
			d.err = errNotJSON
			return false
		}
		raw := d.str()
		if raw == nil {
			return false
		}
		name := raw[1 : len(raw)-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			var unescaped string
			if json.Unmarshal(raw, &unescaped) != nil {
				d.err = errNotJSON
				return false
			}
			name = []byte(unescaped)
		}
		if slices.ContainsFunc(names, func(n []byte) bool { return bytes.Equal(n, name) }) {
			return true
		}
		names = append(names, name)
		if d.next() != ':' {
			d.err = errNotJSON
			return false
		}
		d.pos++
		if d.value() {
			return true
		}
		switch d.next() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return false
		default:
			d.err = errNotJSON
		}
	}
	return false
}

// str skips a string at its opening quote and returns it, quotes
// included.
func (d *dupScanner) str() []byte {
	start := d.pos
	for d.pos++; d.pos < len(d.data); d.pos++ {
		switch d.data[d.pos] {
		case '\\':
			d.pos++
		case '"':
			d.pos++
			return d.data[start:d.pos]
		}
	}
	d.err = errNotJSON
	return nil
}

func stringClaim(tok jwt.Token, name string) string {
	v, _ := tok.Get(name)
	s, _ := v.(string)
	return s
}

// describe turns jwx's errors into short descriptions.
func describe(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired()):
		return invalid(CauseExpired, "token has expired")
	case errors.Is(err, jwt.ErrTokenNotYetValid()):
		return invalid(CauseNotYetValid, "token is not valid yet")
	case errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return invalid(CauseIssuedInFuture, "token was issued in the future")
	case errors.Is(err, jwt.ErrInvalidIssuer()):
		return invalid(CauseIssuer, "token has the wrong issuer")
	case errors.Is(err, jwt.ErrInvalidAudience()):
		return invalid(CauseAudience, "token is not meant for this audience")
	case errors.Is(err, jwt.ErrMissingRequiredClaim(jwt.ExpirationKey)):
		return invalid(CauseClaims, "token has no exp claim")
	case jwt.IsValidationError(err):
		return invalid(CauseClaims, "token claims are invalid")
	}
	return invalid(CauseSignature, "signature verification failed")
}
