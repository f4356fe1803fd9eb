package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

var errBoom = errors.New("boom")

func testAtomically(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("commits when fn succeeds", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		c := newClient("c1")
		rs := newResourceServer("a1", "https://a1")
		g := newGrant("g1", "c1", "https://a1", access.SubjectClient)
		k := newSigningKey("k1", keys.StateCurrent)
		err := s.Atomically(ctx, func(tx storage.Store) error {
			must(t, tx.CreateClient(ctx, c), "CreateClient")
			must(t, tx.CreateResourceServer(ctx, rs), "CreateResourceServer")
			must(t, tx.CreateClientGrant(ctx, g), "CreateClientGrant")
			must(t, tx.SaveSigningKeys(ctx, []keys.SigningKey{k}), "SaveSigningKeys")
			secret, err := tx.InstallationSecret(ctx, "s", func() []byte { return []byte("inside") })
			must(t, err, "InstallationSecret")
			wantEqual(t, secret, []byte("inside"), "InstallationSecret inside")
			// The transaction reads its own writes.
			got, err := tx.FindClientGrant(ctx, "c1", "https://a1", access.SubjectClient)
			must(t, err, "FindClientGrant inside")
			wantEqual(t, got, g, "FindClientGrant inside")
			wantEqual(t, snapshot(t, tx), state{
				Clients: []*clients.Client{c}, APIs: []*access.ResourceServer{rs},
				Grants: []*access.ClientGrant{g}, Keys: []keys.SigningKey{k},
			}, "store inside")
			return nil
		})
		must(t, err, "Atomically")
		wantEqual(t, snapshot(t, s), state{
			Clients: []*clients.Client{c}, APIs: []*access.ResourceServer{rs},
			Grants: []*access.ClientGrant{g}, Keys: []keys.SigningKey{k},
		}, "store after commit")
		secret, err := s.InstallationSecret(ctx, "s", func() []byte { return []byte("outside") })
		must(t, err, "InstallationSecret after commit")
		wantEqual(t, secret, []byte("inside"), "InstallationSecret after commit")
	})

	t.Run("an error from fn leaves nothing written", func(t *testing.T) {
		changed := newClient("c1")
		changed.Name = "Changed"
		changed.SecretHash = []byte("changed")
		changedAPI := newResourceServer("a1", "https://a1")
		changedAPI.Scopes = nil
		changedGrant := newGrant("g1", "c1", "https://a1", access.SubjectClient)
		changedGrant.Scope = []string{}
		for _, tc := range []struct {
			name  string
			write func(ctx context.Context, tx storage.Store) error
		}{
			{"CreateClient", func(ctx context.Context, tx storage.Store) error { return tx.CreateClient(ctx, newClient("c9")) }},
			{"UpdateClient", func(ctx context.Context, tx storage.Store) error { return tx.UpdateClient(ctx, changed) }},
			{"DeleteClient", func(ctx context.Context, tx storage.Store) error { return tx.DeleteClient(ctx, "c1") }},
			{"CreateResourceServer", func(ctx context.Context, tx storage.Store) error {
				return tx.CreateResourceServer(ctx, newResourceServer("a9", "https://a9"))
			}},
			{"UpdateResourceServer", func(ctx context.Context, tx storage.Store) error { return tx.UpdateResourceServer(ctx, changedAPI) }},
			{"DeleteResourceServer", func(ctx context.Context, tx storage.Store) error { return tx.DeleteResourceServer(ctx, "a1") }},
			{"CreateClientGrant", func(ctx context.Context, tx storage.Store) error {
				return tx.CreateClientGrant(ctx, newGrant("g9", "c1", "https://a1", access.SubjectUser))
			}},
			{"UpdateClientGrant", func(ctx context.Context, tx storage.Store) error { return tx.UpdateClientGrant(ctx, changedGrant) }},
			{"DeleteClientGrant", func(ctx context.Context, tx storage.Store) error { return tx.DeleteClientGrant(ctx, "g1") }},
			{"SaveSigningKeys", func(ctx context.Context, tx storage.Store) error {
				return tx.SaveSigningKeys(ctx, []keys.SigningKey{newSigningKey("k1", keys.StateRevoked), newSigningKey("k9", keys.StateNext)})
			}},
			{"several writes", func(ctx context.Context, tx storage.Store) error {
				return errors.Join(
					tx.CreateClient(ctx, newClient("c9")),
					tx.CreateClientGrant(ctx, newGrant("g9", "c9", "https://a2", access.SubjectClient)),
					tx.DeleteResourceServer(ctx, "a1"),
					tx.DeleteClient(ctx, "c2"),
				)
			}},
			{"nested Atomically", func(ctx context.Context, tx storage.Store) error {
				return tx.Atomically(ctx, func(inner storage.Store) error {
					return errors.Join(inner.CreateClient(ctx, newClient("c9")), inner.DeleteClientGrant(ctx, "g4"))
				})
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				ctx := t.Context()
				seed(t, s)
				before := snapshot(t, s)
				err := s.Atomically(ctx, func(tx storage.Store) error {
					must(t, tc.write(ctx, tx), tc.name)
					return errBoom
				})
				wantErr(t, err, errBoom, "Atomically")
				wantEqual(t, snapshot(t, s), before, "store after rollback")
			})
		}
	})

	t.Run("an installation secret created by a failed fn is discarded", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		err := s.Atomically(ctx, func(tx storage.Store) error {
			_, err := tx.InstallationSecret(ctx, "s", func() []byte { return []byte("discarded") })
			must(t, err, "InstallationSecret")
			return errBoom
		})
		wantErr(t, err, errBoom, "Atomically")
		got, err := s.InstallationSecret(ctx, "s", func() []byte { return []byte("kept") })
		must(t, err, "InstallationSecret after rollback")
		wantEqual(t, got, []byte("kept"), "InstallationSecret after rollback")
	})

	t.Run("a failed call returned by fn leaves nothing written", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			failing func(ctx context.Context, tx storage.Store) error
			want    error
		}{
			{"conflict", func(ctx context.Context, tx storage.Store) error { return tx.CreateClient(ctx, newClient("c1")) }, storage.ErrConflict},
			{"grant conflict", func(ctx context.Context, tx storage.Store) error {
				return tx.CreateClientGrant(ctx, newGrant("g9", "c1", "https://a1", access.SubjectClient))
			}, storage.ErrConflict},
			{"not found", func(ctx context.Context, tx storage.Store) error { return tx.DeleteClient(ctx, "nope") }, storage.ErrNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				ctx := t.Context()
				seed(t, s)
				before := snapshot(t, s)
				err := s.Atomically(ctx, func(tx storage.Store) error {
					must(t, tx.CreateClient(ctx, newClient("c9")), "CreateClient")
					must(t, tx.DeleteResourceServer(ctx, "a2"), "DeleteResourceServer")
					return tc.failing(ctx, tx)
				})
				wantErr(t, err, tc.want, "Atomically")
				wantEqual(t, snapshot(t, s), before, "store after rollback")
			})
		}
	})

	t.Run("a panic in fn leaves nothing written", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed(t, s)
		before := snapshot(t, s)
		func() {
			defer func() {
				if r := recover(); r != errBoom {
					t.Fatalf("recovered %v, want the panic of fn", r)
				}
			}()
			_ = s.Atomically(ctx, func(tx storage.Store) error {
				must(t, tx.CreateClient(ctx, newClient("c9")), "CreateClient")
				must(t, tx.DeleteClient(ctx, "c1"), "DeleteClient")
				panic(errBoom)
			})
			t.Fatal("Atomically returned after fn panicked")
		}()
		wantEqual(t, snapshot(t, s), before, "store after the panic")
		// Nothing is left locked.
		must(t, s.CreateClient(ctx, newClient("c9")), "CreateClient after the panic")
		must(t, s.Atomically(ctx, func(tx storage.Store) error { return tx.DeleteClient(ctx, "c9") }), "Atomically after the panic")
	})

	t.Run("nested Atomically shares the transaction", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		err := s.Atomically(ctx, func(tx storage.Store) error {
			must(t, tx.CreateClient(ctx, newClient("c1")), "CreateClient outside")
			err := tx.Atomically(ctx, func(inner storage.Store) error {
				_, err := inner.Client(ctx, "c1")
				must(t, err, "Client of the outer write, inside")
				return inner.CreateClient(ctx, newClient("c2"))
			})
			must(t, err, "nested Atomically")
			_, err = tx.Client(ctx, "c2")
			must(t, err, "Client of the inner write, outside")
			return nil
		})
		must(t, err, "Atomically")
		wantEqual(t, snapshot(t, s).Clients, []*clients.Client{newClient("c1"), newClient("c2")}, "clients after commit")

		err = s.Atomically(ctx, func(tx storage.Store) error {
			must(t, tx.Atomically(ctx, func(inner storage.Store) error {
				return inner.DeleteClient(ctx, "c1")
			}), "nested Atomically")
			return errBoom
		})
		wantErr(t, err, errBoom, "Atomically")
		wantEqual(t, snapshot(t, s).Clients, []*clients.Client{newClient("c1"), newClient("c2")}, "clients after the outer rollback")
	})
}
