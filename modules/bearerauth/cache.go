package bearerauth

import (
	"crypto/sha256"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/portcullis-gw/portcullis/authz"
	"github.com/portcullis-gw/portcullis/internal/bounded"
)

// verified is a token that passed verification: its policy description,
// when it stops being valid, the key that signed it, and what every request
// with it would otherwise work out again.
type verified struct {
	token     *authz.Token
	notBefore time.Time
	expiry    time.Time
	kid       string
	issuer    *issuer
	// scope is the scope claim, as the identity header has it.
	scope string
	// placeholders is v.placeholder, made once.
	placeholders caddy.ReplacerFunc
	// grant is the live client grant last read for an M2M token of the
	// embedded server, good while the server's Generation is unchanged.
	grant atomic.Pointer[liveGrant]
}

// liveGrant is a client grant as read at a server generation.
type liveGrant struct {
	generation uint64
	grant      *authz.Grant
}

// CertificateThumbprint is the certificate the token is bound to, if any.
func (v *verified) CertificateThumbprint() string { return v.token.CertThumbprint }

// tokenCache remembers verified tokens by the SHA-256 of the token, so a
// token presented again skips signature verification. Callers must still
// check expiry and that the signing key is still published. When full, it
// evicts by CLOCK: tokens presented again since the hand last passed stay,
// while a stream of tokens seen once replaces mostly itself
// (BenchmarkHotSetUnderScan).
type tokenCache = bounded.Map[[sha256.Size]byte, *verified]

func newTokenCache(size int) *tokenCache {
	return bounded.New[[sha256.Size]byte, *verified](size)
}
