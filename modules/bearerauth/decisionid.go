package bearerauth

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
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
