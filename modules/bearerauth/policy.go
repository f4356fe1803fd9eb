package bearerauth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authz"
	"github.com/portcullis-gw/portcullis/policies"
)

// PolicyPollInterval is how often a policy directory is checked for
// changes.
const PolicyPollInterval = time.Second

// provisionPolicy compiles the embedded policy, or the policy directory
// and starts watching it.
func (h *Handler) provisionPolicy(ctx caddy.Context) error {
	if h.PolicyDir == "" {
		p, err := h.loadPolicy(ctx, policies.Default, "policies")
		if err != nil {
			return fmt.Errorf("bearer_auth: embedded policy: %w", err)
		}
		h.policy.Store(p)
		return nil
	}
	dir, err := filepath.Abs(h.PolicyDir)
	if err != nil {
		return err
	}
	seen, err := fingerprint(dir)
	if err != nil {
		return fmt.Errorf("bearer_auth: policy %s: %w", dir, err)
	}
	p, err := h.loadPolicy(ctx, os.DirFS(dir), dir)
	if err != nil {
		return fmt.Errorf("bearer_auth: %w", err)
	}
	h.policy.Store(p)
	go h.watchPolicy(ctx, dir, seen)
	return nil
}

// loadPolicy compiles a policy with the handler's evaluation timeout.
func (h *Handler) loadPolicy(ctx context.Context, fsys fs.FS, prefix string) (*authz.Policy, error) {
	p, err := authz.Load(ctx, fsys, prefix)
	if err != nil {
		return nil, err
	}
	p.Timeout = time.Duration(h.PolicyTimeout)
	return p, nil
}

// watchPolicy recompiles the policy directory whenever its files change,
// until ctx ends (the config is replaced). A policy that does not compile is
// logged and the previous one keeps serving.
func (h *Handler) watchPolicy(ctx caddy.Context, dir string, seen [sha256.Size]byte) {
	tick := time.NewTicker(PolicyPollInterval)
	defer tick.Stop()
	polls := policyPolls(dir)
	for {
		var done chan struct{}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case done = <-polls:
		}
		seen = h.checkPolicy(ctx, dir, seen)
		if done != nil {
			close(done)
		}
	}
}

// checkPolicy recompiles the policy directory if its fingerprint is no
// longer seen, and returns the fingerprint to compare the next check with.
func (h *Handler) checkPolicy(ctx context.Context, dir string, seen [sha256.Size]byte) [sha256.Size]byte {
	now, err := fingerprint(dir)
	if err != nil {
		h.logger.Error("reading the policy directory; the current policy keeps serving", zap.String("dir", dir), zap.Error(err))
		return seen
	}
	if now == seen {
		return seen
	}
	p, err := h.loadPolicy(ctx, os.DirFS(dir), dir)
	if err != nil {
		h.logger.Error("policy does not compile; the previous policy keeps serving", zap.String("dir", dir), zap.Error(err))
		return now
	}
	h.policy.Store(p)
	h.logger.Info("policy reloaded", zap.String("dir", dir), zap.Strings("files", p.Files))
	return now
}

// policyPollRequests holds, by policy directory, the channel on which the
// tests ask the directory's watcher to check it at once rather than at its
// next tick (see PollPolicy in export_test.go); the watcher closes the
// channel it receives when the check is done.
var policyPollRequests sync.Map // directory → chan chan struct{}

// policyPolls is the channel of poll requests for the policy directory
// dir.
func policyPolls(dir string) chan chan struct{} {
	c, _ := policyPollRequests.LoadOrStore(dir, make(chan chan struct{}))
	return c.(chan chan struct{})
}

// clock is the handlers' clock: for token lifetimes, in the cache and
// when verifying. The tests shift it (see export_test.go).
var clock = time.Now

// fingerprint hashes the names, sizes and modification times of the
// policy files under dir.
func fingerprint(dir string) ([sha256.Size]byte, error) {
	sum := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".rego") || filepath.Base(p) == "data.json") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(sum, "%s\x00%d\x00%d\x00", p, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	var out [sha256.Size]byte
	copy(out[:], sum.Sum(nil))
	return out, err
}
