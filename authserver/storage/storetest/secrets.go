package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

func testSigningKeys(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("none stored", func(t *testing.T) {
		s := open(t)
		ks, err := s.SigningKeys(t.Context())
		must(t, err, "SigningKeys")
		wantEqual(t, len(ks), 0, "keys of an empty store")
	})

	t.Run("save inserts and replaces", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			stored []keys.SigningKey
			save   []keys.SigningKey
			want   []keys.SigningKey
		}{
			{
				name: "into an empty store",
				save: []keys.SigningKey{newSigningKey("k2", keys.StateNext), newSigningKey("k1", keys.StateCurrent), newSigningKey("k3", keys.StateRevoked)},
				want: []keys.SigningKey{newSigningKey("k1", keys.StateCurrent), newSigningKey("k2", keys.StateNext), newSigningKey("k3", keys.StateRevoked)},
			},
			{
				name:   "replacing one and adding one",
				stored: []keys.SigningKey{newSigningKey("k1", keys.StateCurrent), newSigningKey("k2", keys.StateNext)},
				save:   []keys.SigningKey{newSigningKey("k1", keys.StatePrevious), newSigningKey("k3", keys.StateNext)},
				want:   []keys.SigningKey{newSigningKey("k1", keys.StatePrevious), newSigningKey("k2", keys.StateNext), newSigningKey("k3", keys.StateNext)},
			},
			{
				name:   "nothing",
				stored: []keys.SigningKey{newSigningKey("k1", keys.StateCurrent)},
				save:   nil,
				want:   []keys.SigningKey{newSigningKey("k1", keys.StateCurrent)},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				ctx := t.Context()
				if tc.stored != nil {
					must(t, s.SaveSigningKeys(ctx, tc.stored), "SaveSigningKeys of the stored keys")
				}
				must(t, s.SaveSigningKeys(ctx, tc.save), "SaveSigningKeys")
				wantEqual(t, snapshot(t, s).Keys, tc.want, "keys")
			})
		}
	})

	t.Run("a failed save saves nothing", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed(t, s)
		before := snapshot(t, s)
		broken := newSigningKey("k9", keys.StateNext)
		broken.PrivateJWK = json.RawMessage(`{"kty":`)
		err := s.SaveSigningKeys(ctx, []keys.SigningKey{
			newSigningKey("k1", keys.StateRevoked), newSigningKey("k3", keys.StateNext), broken,
		})
		if err == nil {
			t.Skip("the backend stores a PrivateJWK that is not JSON, so this test cannot make a save fail")
		}
		wantEqual(t, snapshot(t, s), before, "store after the failed save")
	})
}

func testInstallationSecret(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("generated once per name", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		first := []byte("secret\x00\xff one")
		got, err := s.InstallationSecret(ctx, "one", func() []byte { return bytes.Clone(first) })
		must(t, err, "InstallationSecret")
		wantEqual(t, got, first, "first InstallationSecret")
		again, err := s.InstallationSecret(ctx, "one", func() []byte {
			t.Error("generate called for a stored secret")
			return []byte("replacement")
		})
		must(t, err, "InstallationSecret again")
		wantEqual(t, again, first, "second InstallationSecret")
		other, err := s.InstallationSecret(ctx, "two", func() []byte { return []byte("secret two") })
		must(t, err, "InstallationSecret of another name")
		wantEqual(t, other, []byte("secret two"), "InstallationSecret of another name")
		got[0] = 'X'
		again, err = s.InstallationSecret(ctx, "one", func() []byte { return []byte("replacement") })
		must(t, err, "InstallationSecret after changing a returned value")
		wantEqual(t, again, first, "InstallationSecret after changing a returned value")
	})

	t.Run("concurrent callers get the same value", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		const n = 16
		results := make([][]byte, n)
		errs := make([]error, n)
		var start, done sync.WaitGroup
		start.Add(1)
		for i := range n {
			done.Go(func() {
				start.Wait()
				results[i], errs[i] = s.InstallationSecret(ctx, "shared", func() []byte {
					return fmt.Appendf(nil, "candidate %d", i)
				})
			})
		}
		start.Done()
		done.Wait()
		for i := range n {
			must(t, errs[i], fmt.Sprintf("InstallationSecret in goroutine %d", i))
			wantEqual(t, results[i], results[0], fmt.Sprintf("secret of goroutine %d", i))
		}
		if !strings.HasPrefix(string(results[0]), "candidate ") {
			t.Fatalf("secret %q is none of the generated values", results[0])
		}
		later, err := s.InstallationSecret(ctx, "shared", func() []byte { return []byte("late") })
		must(t, err, "InstallationSecret after the race")
		wantEqual(t, later, results[0], "secret after the race")
	})
}

func testReplaceInstallationSecret(t *testing.T, open func(t *testing.T) storage.Store) {
	s := open(t)
	ctx := t.Context()
	if err := s.ReplaceInstallationSecret(ctx, "missing", []byte("x")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("ReplaceInstallationSecret of a missing secret = %v, want ErrNotFound", err)
	}
	_, err := s.InstallationSecret(ctx, "one", func() []byte { return []byte("first") })
	must(t, err, "InstallationSecret")
	_, err = s.InstallationSecret(ctx, "two", func() []byte { return []byte("second") })
	must(t, err, "InstallationSecret")
	must(t, s.ReplaceInstallationSecret(ctx, "one", []byte("replaced")), "ReplaceInstallationSecret")
	got, err := s.InstallationSecret(ctx, "one", func() []byte { return []byte("generated") })
	must(t, err, "InstallationSecret after the replacement")
	wantEqual(t, got, []byte("replaced"), "replaced secret")
	got, err = s.InstallationSecret(ctx, "two", func() []byte { return []byte("generated") })
	must(t, err, "InstallationSecret of the other name")
	wantEqual(t, got, []byte("second"), "the other secret")
	got, err = s.InstallationSecret(ctx, "missing", func() []byte { return []byte("late") })
	must(t, err, "InstallationSecret after a failed replacement")
	wantEqual(t, got, []byte("late"), "secret the failed replacement did not create")
}
