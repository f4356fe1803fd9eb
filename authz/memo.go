package authz

import (
	"strconv"
	"strings"

	"github.com/portcullis-gw/portcullis/internal/bounded"
)

// MemoSize is how many decisions a policy remembers.
const MemoSize = 10000

// memo remembers decisions of a deterministic policy that does not read
// request headers: its decision is then a function of the token and a few
// request fields, so the same ones are evaluated once. A nil memo remembers
// nothing.
type memo = bounded.Map[memoKey, Decision]

// memoKey is everything of an Input such a policy can read: every field
// but Request.Header (TestMemoKeyCoversEveryInputField checks that a field
// added to Input is added here too). The token is identified by its
// pointer: a *Token is built once per verified token and never changes.
// Lists are length-prefixed so that no two inputs share a key.
type memoKey struct {
	token                        *Token
	method, path, host, rawQuery string
	route, grant, cert           string
}

func (in *Input) memoKey(uses inputUse) memoKey {
	k := memoKey{token: in.Token, method: in.Request.Method, path: in.Request.Path, host: in.Request.Host}
	if uses.query {
		k.rawQuery = in.Request.RawQuery
	}
	var b strings.Builder
	list(&b, in.Route.RequiredScopes)
	list(&b, in.Route.RequiredPermissions)
	k.route = b.String()
	if g := in.ClientGrant; g != nil {
		b.Reset()
		list(&b, []string{g.ID, g.ClientID, g.Audience, strconv.FormatBool(g.AllowAllScopes)})
		list(&b, g.Scopes)
		k.grant = b.String()
	}
	if c := in.ClientCert; c != nil {
		b.Reset()
		list(&b, []string{strconv.FormatBool(c.Verified), c.Fingerprint, c.Thumbprint, c.Subject, strconv.FormatInt(c.NotAfter, 10)})
		list(&b, c.DNSNames)
		list(&b, c.URIs)
		k.cert = b.String()
	}
	return k
}

// list writes ss unambiguously: a count, then each string's length and
// bytes.
func list(b *strings.Builder, ss []string) {
	b.WriteString(strconv.Itoa(len(ss)))
	b.WriteByte(';')
	for _, s := range ss {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
}
