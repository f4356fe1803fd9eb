package bearerauth

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

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
	// later is, in the request's first outcome, the last one made for the
	// request by another bearer_auth handler.
	later atomic.Pointer[outcome]
}

// outcomeVar is the request variable holding the request's first outcome,
// the one whose placeholder provider the replacer consults.
const outcomeVar = "\x00bearer_auth.outcome"

// publish makes o the decision the request's placeholders name. A
// replacer asks its providers in the order they were added, the first to
// know a key answering: the first outcome's provider is added, and any
// later outcome is handed to it, so that a request through several
// bearer_auth handlers names the last decision, as the decision log and
// the decision-id header do.
func (o *outcome) publish(r *http.Request, repl *caddy.Replacer) {
	if first, ok := caddyhttp.GetVar(r.Context(), outcomeVar).(*outcome); ok {
		first.later.Store(o)
		return
	}
	caddyhttp.SetVar(r.Context(), outcomeVar, o)
	repl.Map(o.placeholder)
}

// ID is the decision's id, made on the first call.
func (o *outcome) ID() string {
	o.once.Do(func() { o.id = o.ids.next() })
	return o.id
}

// placeholder answers {http.auth.bearer.decision_id} and
// {http.auth.bearer.reason} when something reads them.
func (o *outcome) placeholder(key string) (any, bool) {
	if l := o.later.Load(); l != nil {
		o = l
	}
	switch key {
	case "http.auth.bearer.decision_id":
		return o.ID(), true
	case "http.auth.bearer.reason":
		return o.Reason, true
	}
	return nil, false
}
