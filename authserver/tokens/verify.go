package tokens

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
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
	// All is every claim as the token has it, decoded by encoding/json
	// (numbers as json.Number).
	All map[string]any
	// KID and Type are from the protected header.
	KID  string
	Type string
	// Issuer is iss; Audience is aud, a list even when the token has one
	// string; JWTID is jti.
	Issuer   string
	Audience []string
	JWTID    string
	// Expiry is exp; NotBefore (nbf) and IssuedAt (iat) are zero when the
	// token has none.
	Expiry, NotBefore, IssuedAt time.Time
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
	token                      string
	header, payload, signature []byte
	claims                     map[string]any // the payload decoded; nil when it is no JSON object
}

// Parse reads the token's compact serialization (size, three segments, each
// canonical base64url) and decodes its claims, for Issuer and VerifyParsed.
// Its errors wrap ErrInvalidToken.
func Parse(token string) (*Parsed, error) {
	if len(token) > MaxTokenSize {
		return nil, invalid(CauseMalformed, fmt.Sprintf("token is larger than %d bytes", MaxTokenSize))
	}
	header, payload, signature, err := compactSegments(token)
	if err != nil {
		return nil, err
	}
	p := &Parsed{token: token, header: header, payload: payload, signature: signature}
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

// VerifyParsed is Verify for a token Parse has read. It works from Parse's
// decoding: the header is decoded once more (into its members), the
// signature is checked over the token's own bytes, and the claims are
// read from the payload Parse decoded.
func (v *Verifier) VerifyParsed(ctx context.Context, p *Parsed, audience string) (*Claims, error) {
	// encoding/json keeps the last of duplicate members silently; another
	// reader (an upstream, a log) may keep the first.
	if hasDuplicateMembers(p.header) {
		return nil, invalid(CauseHeader, "token header has duplicate members")
	}
	if hasDuplicateMembers(p.payload) {
		return nil, invalid(CauseClaims, "token claims have duplicate members")
	}
	hdr, err := readHeader(p.header)
	if err != nil {
		return nil, err
	}
	if err := v.checkSignature(ctx, p, hdr); err != nil {
		return nil, err
	}
	if p.claims == nil {
		return nil, invalid(CauseMalformed, "token claims cannot be read")
	}
	c, err := readClaims(p.claims)
	if err != nil {
		return nil, err
	}
	c.KID, c.Type = hdr.kid, hdr.typ
	if err := v.checkClaims(c, audience); err != nil {
		return nil, err
	}
	if hdr.typ != TypeJWT && (stringClaim(p.claims, "client_id") == "" || c.JWTID == "" || c.Subject == "") {
		return nil, invalid(CauseClaims, "RFC 9068 token lacks sub, client_id or jti")
	}
	return c, nil
}

// header is what Verify reads of a token's protected header.
type header struct {
	alg      jwa.SignatureAlgorithm
	kid, typ string
}

// readHeader decodes the protected header and checks it: no critical
// extension, an allowed alg, a kid, an access token's typ, and no key of
// its own (jwk, jku, x5u, x5c: the issuer's published keys decide).
func readHeader(raw []byte) (header, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return header{}, invalid(CauseMalformed, "malformed token")
	}
	// RFC 7515 makes crit the recipient's to honour.
	if err := checkCritical(members); err != nil {
		return header{}, err
	}
	var h header
	var alg string
	for name, dst := range map[string]*string{"alg": &alg, "kid": &h.kid, "typ": &h.typ} {
		if raw, ok := members[name]; ok && json.Unmarshal(raw, dst) != nil {
			return header{}, invalid(CauseMalformed, "malformed token")
		}
	}
	h.alg = jwa.SignatureAlgorithm(alg)
	if !slices.Contains(AllowedAlgorithms, h.alg) {
		return header{}, invalid(CauseAlgorithm, "signing algorithm is not allowed")
	}
	if h.kid == "" {
		return header{}, invalid(CauseHeader, "token header has no kid")
	}
	if h.typ != TypeJWT && h.typ != TypeATJWT && !strings.EqualFold(h.typ, "application/at+jwt") {
		return header{}, invalid(CauseHeader, "token type is not an access token")
	}
	for _, name := range []string{"jwk", "jku", "x5u", "x5c"} {
		if _, ok := members[name]; ok {
			return header{}, invalid(CauseHeader, "token header must not carry keys (jwk, jku, x5u, x5c)")
		}
	}
	return h, nil
}

// verifiers holds a jws.Verifier per allowed algorithm.
var verifiers = byAlgorithm(jws.NewVerifier)

// byAlgorithm makes one T with newT for each allowed algorithm, for jwx's
// signers and verifiers, which keep no state between calls.
func byAlgorithm[T any](newT func(jwa.SignatureAlgorithm) (T, error)) map[jwa.SignatureAlgorithm]T {
	m := make(map[jwa.SignatureAlgorithm]T, len(AllowedAlgorithms))
	for _, alg := range AllowedAlgorithms {
		t, err := newT(alg)
		if err != nil {
			panic(err)
		}
		m[alg] = t
	}
	return m
}

// checkSignature checks the signature with the issuer's key of the
// header's kid, refreshing the keys once when the kid is unknown. The key
// must be for signatures and its own alg must be the header's.
func (v *Verifier) checkSignature(ctx context.Context, p *Parsed, hdr header) error {
	keys := v.Keys.PublicKeys()
	if _, ok := keys.LookupKeyID(hdr.kid); !ok {
		r, ok := v.Keys.(KeyRefresher)
		if !ok {
			return invalid(CauseUnknownKey, "unknown signing key")
		}
		r.RefreshForKID(ctx, hdr.kid)
		keys = v.Keys.PublicKeys()
		if _, ok := keys.LookupKeyID(hdr.kid); !ok {
			return invalid(CauseUnknownKey, "unknown signing key")
		}
	}
	signed := []byte(p.token[:strings.LastIndexByte(p.token, '.')])
	for i := range keys.Len() {
		key, _ := keys.Key(i)
		if key.KeyID() != hdr.kid || key.Algorithm().String() != hdr.alg.String() ||
			(key.KeyUsage() != "" && key.KeyUsage() != string(jwk.ForSignature)) {
			continue
		}
		if verifiers[hdr.alg].Verify(signed, p.signature, key) == nil {
			return nil
		}
	}
	return invalid(CauseSignature, "signature verification failed")
}

// readClaims reads the registered and Auth0 claims Verify and its callers
// use. iss, sub and jti must be strings, aud a string or a list of them,
// and exp, nbf and iat numbers (RFC 7519 NumericDate); client_id, azp, gty
// and scope are read when they are strings.
func readClaims(all map[string]any) (*Claims, error) {
	c := &Claims{All: all}
	bad := invalid(CauseClaims, "token claims are invalid")
	for name, dst := range map[string]*string{"iss": &c.Issuer, "sub": &c.Subject, "jti": &c.JWTID} {
		if v, ok := all[name]; ok {
			if *dst, ok = v.(string); !ok {
				return nil, bad
			}
		}
	}
	switch aud := all["aud"].(type) {
	case nil:
	case string:
		c.Audience = []string{aud}
	case []any:
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return nil, bad
			}
			c.Audience = append(c.Audience, s)
		}
	default:
		return nil, bad
	}
	for name, dst := range map[string]*time.Time{"exp": &c.Expiry, "nbf": &c.NotBefore, "iat": &c.IssuedAt} {
		if v, ok := all[name]; ok {
			t, ok := numericDate(v)
			if !ok {
				return nil, bad
			}
			*dst = t
		}
	}
	c.ClientID = stringClaim(all, "client_id")
	if c.ClientID == "" {
		c.ClientID = stringClaim(all, "azp")
	}
	c.GrantType = stringClaim(all, "gty")
	c.Scopes = strings.Fields(stringClaim(all, "scope"))
	if v, ok := all["permissions"]; ok {
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
	if v, ok := all["cnf"]; ok {
		cnf, ok := v.(map[string]any)
		thumb, _ := cnf["x5t#S256"].(string)
		if !ok || thumb == "" {
			return nil, invalid(CauseClaims, "cnf claim has no x5t#S256 certificate thumbprint")
		}
		c.CertThumbprint = thumb
	}
	return c, nil
}

// maxNumericDate is the last second of year 9999: later dates are refused
// as malformed rather than overflow.
const maxNumericDate = 253402300799

// numericDate reads a NumericDate (RFC 7519): a JSON number of seconds
// since the epoch, fractions allowed, from 0 to maxNumericDate.
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), true
}

// checkClaims checks the times, to the second, with the leeway (iat not in
// the future, exp not past, nbf reached), then the issuer, the audience,
// and that exp is there at all.
func (v *Verifier) checkClaims(c *Claims, audience string) error {
	leeway := min(v.Leeway, MaxLeeway)
	clock := time.Now
	if v.Now != nil {
		clock = v.Now
	}
	now := clock().Truncate(time.Second)
	switch {
	case !c.IssuedAt.IsZero() && now.Before(c.IssuedAt.Truncate(time.Second).Add(-leeway)):
		return invalid(CauseIssuedInFuture, "token was issued in the future")
	case !c.Expiry.IsZero() && !now.Before(c.Expiry.Truncate(time.Second).Add(leeway)):
		return invalid(CauseExpired, "token has expired")
	case !c.NotBefore.IsZero() && now.Before(c.NotBefore.Truncate(time.Second).Add(-leeway)):
		return invalid(CauseNotYetValid, "token is not valid yet")
	case c.Issuer != v.Issuer:
		return invalid(CauseIssuer, "token has the wrong issuer")
	case !slices.Contains(c.Audience, audience):
		return invalid(CauseAudience, "token is not meant for this audience")
	}
	if _, ok := c.All["exp"]; !ok {
		return invalid(CauseClaims, "token has no exp claim")
	}
	return nil
}

// standardHeaders are the header parameters RFC 7515 section 4.1 defines
// for JWS, which a crit list must never name.
var standardHeaders = []string{"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"}

// checkCritical applies RFC 7515 section 4.1.11 to a JOSE header: a JWS
// whose crit lists an extension the recipient does not understand is
// invalid, and Verify understands none, so any crit is refused. The
// description tells a well-formed crit (a non-empty list of distinct
// extension names, each a member of the header) from a malformed one.
func checkCritical(members map[string]json.RawMessage) error {
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
func compactSegments(token string) (header, payload, signature []byte, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, nil, invalid(CauseMalformed, "malformed token")
	}
	decoded := make([][]byte, 3)
	for i, p := range parts {
		if decoded[i], err = base64.RawURLEncoding.Strict().DecodeString(p); err != nil {
			return nil, nil, nil, invalid(CauseMalformed, "malformed token")
		}
	}
	return decoded[0], decoded[1], decoded[2], nil
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

// stringClaim is the claim name when it is a string, else "".
func stringClaim(all map[string]any, name string) string {
	s, _ := all[name].(string)
	return s
}
