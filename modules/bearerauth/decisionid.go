package bearerauth

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"

	"github.com/portcullis-gw/portcullis/authz"
)

// decisionIDs makes decision ids: a random prefix per handler and a
// counter, unique across restarts and cheap enough for every request.
// They identify log lines; they are not secrets.
type decisionIDs struct {
	prefix string
	n      atomic.Uint64
}

func newDecisionIDs() *decisionIDs {
	b := make([]byte, 8)
	rand.Read(b) // never returns an error; it crashes the program instead
	return &decisionIDs{prefix: hex.EncodeToString(b) + "-"}
}

func (d *decisionIDs) next() string {
	return d.prefix + strconv.FormatUint(d.n.Add(1), 10)
}

// outcome is one request's policy decision as the decision log, the
// identity headers and the placeholders see it. Its id is made the first
// time one of them asks for it, so a request whose decision is neither
// logged nor forwarded nor named by a placeholder never makes one.
type outcome struct {
	authz.Decision
	ids  *decisionIDs
	once sync.Once
	id   string
}

// ID is the decision's id, made on the first call.
func (o *outcome) ID() string {
	o.once.Do(func() { o.id = o.ids.next() })
	return o.id
}

// String is the decision's id: o is the value of the
// {http.auth.bearer.decision_id} placeholder, which Caddy turns into text
// (caddy.ToString) only when something reads it.
func (o *outcome) String() string { return o.ID() }

// publish sets the request's decision placeholders to o. They are set, not
// provided, so that a request through several bearer_auth handlers names
// the last decision, as the decision log and the decision-id header do.
func (o *outcome) publish(repl *caddy.Replacer) {
	repl.Set("http.auth.bearer.decision_id", o)
	repl.Set("http.auth.bearer.reason", o.Reason)
}
