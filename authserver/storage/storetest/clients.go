package storetest

import (
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

func testClients(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("round trip keeps every field", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		public := newClient("spa")
		public.AppType = clients.AppSPA
		public.TokenEndpointAuthMethod = clients.AuthNone
		public.SecretHash = nil
		for _, tc := range []struct {
			name string
			c    *clients.Client
		}{
			{"confidential", newClient("web")},
			{"public, no secret hash", public},
		} {
			t.Run(tc.name, func(t *testing.T) {
				must(t, s.CreateClient(ctx, tc.c), "CreateClient")
				got, err := s.Client(ctx, tc.c.ClientID)
				must(t, err, "Client")
				wantEqual(t, got, tc.c, "Client after CreateClient")
			})
		}
	})

	t.Run("arguments and results are copies", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		c := newClient("c1")
		must(t, s.CreateClient(ctx, c), "CreateClient")
		c.Name = "changed after create"
		c.GrantTypes[0] = "changed"
		c.SecretHash[0] = 'X'
		got, err := s.Client(ctx, "c1")
		must(t, err, "Client")
		wantEqual(t, got, newClient("c1"), "Client after changing the created value")
		got.ClientMetadata["tier"] = "changed"
		got.SecretHash[0] = 'Y'
		again, err := s.Client(ctx, "c1")
		must(t, err, "Client")
		wantEqual(t, again, newClient("c1"), "Client after changing a returned value")
	})

	t.Run("create with a taken client_id conflicts", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		must(t, s.CreateClient(ctx, newClient("c1")), "CreateClient")
		other := newClient("c1")
		other.Name = "Impostor"
		other.SecretHash = []byte("other hash")
		wantErr(t, s.CreateClient(ctx, other), storage.ErrConflict, "CreateClient again")
		got, err := s.Client(ctx, "c1")
		must(t, err, "Client")
		wantEqual(t, got, newClient("c1"), "Client after the conflict")
	})

	t.Run("missing client is not found", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		must(t, s.CreateClient(ctx, newClient("c1")), "CreateClient")
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"Client", func() error { _, err := s.Client(ctx, "nope"); return err }},
			{"UpdateClient", func() error { return s.UpdateClient(ctx, newClient("nope")) }},
			{"DeleteClient", func() error { return s.DeleteClient(ctx, "nope") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.call(), storage.ErrNotFound, tc.name)
			})
		}
		_, total, err := s.ListClients(ctx, storage.ClientFilter{}, storage.Page{PerPage: 10})
		must(t, err, "ListClients")
		wantEqual(t, total, 1, "clients after the failed calls")
	})

	t.Run("update replaces every field", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			change func(c *clients.Client)
		}{
			{"new secret hash and settings", func(c *clients.Client) {
				c.Name = "Renamed"
				c.Description = ""
				c.GrantTypes = []string{clients.GrantClientCredentials}
				c.Callbacks = nil
				c.JWTConfiguration.LifetimeInSeconds = 60
				c.ClientMetadata = map[string]string{"tier": "silver"}
				c.SecretHash = []byte("rotated\x00hash")
			}},
			{"made public, secret hash removed", func(c *clients.Client) {
				c.AppType = clients.AppNative
				c.TokenEndpointAuthMethod = clients.AuthNone
				c.GrantTypes = []string{clients.GrantAuthorizationCode}
				c.SecretHash = nil
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				ctx := t.Context()
				must(t, s.CreateClient(ctx, newClient("c1")), "CreateClient c1")
				must(t, s.CreateClient(ctx, newClient("c2")), "CreateClient c2")
				c := newClient("c1")
				tc.change(c)
				must(t, s.UpdateClient(ctx, c), "UpdateClient")
				got, err := s.Client(ctx, "c1")
				must(t, err, "Client")
				wantEqual(t, got, c, "Client after UpdateClient")
				other, err := s.Client(ctx, "c2")
				must(t, err, "Client c2")
				wantEqual(t, other, newClient("c2"), "the other client")
			})
		}
	})

	t.Run("delete removes the client and its grants only", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed(t, s)
		must(t, s.DeleteClient(ctx, "c1"), "DeleteClient")
		_, err := s.Client(ctx, "c1")
		wantErr(t, err, storage.ErrNotFound, "Client after DeleteClient")
		st := snapshot(t, s)
		wantEqual(t, st.Clients, []*clients.Client{newClient("c2")}, "clients left")
		wantEqual(t, grantIDs(st.Grants), []string{"g3", "g4"}, "grants left")
		wantEqual(t, len(st.APIs), 2, "APIs left")
		wantErr(t, s.DeleteClient(ctx, "c1"), storage.ErrNotFound, "DeleteClient again")
		// The client_id is free again, with no grant.
		must(t, s.CreateClient(ctx, newClient("c1")), "CreateClient after DeleteClient")
		gs, total, err := s.ListClientGrants(ctx, storage.GrantFilter{ClientID: "c1"}, storage.Page{PerPage: 10})
		must(t, err, "ListClientGrants")
		wantEqual(t, total, 0, "grants of the new c1")
		wantEqual(t, len(gs), 0, "grants of the new c1")
	})

	t.Run("list", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		empty, total, err := s.ListClients(ctx, storage.ClientFilter{}, storage.Page{PerPage: 10})
		must(t, err, "ListClients of an empty store")
		wantEqual(t, len(empty), 0, "clients of an empty store")
		wantEqual(t, total, 0, "total of an empty store")
		for _, id := range []string{"c3", "c1", "c5", "c2", "c4"} {
			must(t, s.CreateClient(ctx, newClient(id)), "CreateClient "+id)
		}
		for _, tc := range []struct {
			name string
			page storage.Page
			want []string
		}{
			{"everything", storage.Page{Page: 0, PerPage: 50}, []string{"c1", "c2", "c3", "c4", "c5"}},
			{"first page", storage.Page{Page: 0, PerPage: 2}, []string{"c1", "c2"}},
			{"middle page", storage.Page{Page: 1, PerPage: 2}, []string{"c3", "c4"}},
			{"short last page", storage.Page{Page: 2, PerPage: 2}, []string{"c5"}},
			{"past the end", storage.Page{Page: 3, PerPage: 2}, []string{}},
			{"one per page", storage.Page{Page: 4, PerPage: 1}, []string{"c5"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.ListClients(ctx, storage.ClientFilter{}, tc.page)
				must(t, err, "ListClients")
				ids := []string{}
				for _, c := range got {
					wantEqual(t, c, newClient(c.ClientID), "listed client")
					ids = append(ids, c.ClientID)
				}
				wantEqual(t, ids, tc.want, "client_ids")
				wantEqual(t, total, 5, "total")
			})
		}
	})

	t.Run("list filtered", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		kinds := map[string]struct {
			app        clients.AppType
			firstParty bool
		}{
			"c1": {clients.AppSPA, true}, "c2": {clients.AppRegularWeb, false}, "c3": {clients.AppNative, true},
			"c4": {clients.AppSPA, false}, "c5": {clients.AppNonInteractive, true},
		}
		for id, k := range kinds {
			c := newClient(id)
			c.AppType, c.IsFirstParty = k.app, k.firstParty
			must(t, s.CreateClient(ctx, c), "CreateClient "+id)
		}
		yes, no := true, false
		all := storage.Page{PerPage: 10}
		for _, tc := range []struct {
			name      string
			filter    storage.ClientFilter
			page      storage.Page
			want      []string
			wantTotal int
		}{
			{"one type", storage.ClientFilter{AppTypes: []clients.AppType{clients.AppSPA}}, all, []string{"c1", "c4"}, 2},
			{"two types", storage.ClientFilter{AppTypes: []clients.AppType{clients.AppNative, clients.AppNonInteractive}}, all, []string{"c3", "c5"}, 2},
			{"third party", storage.ClientFilter{FirstParty: &no}, all, []string{"c2", "c4"}, 2},
			{"first-party single-page apps", storage.ClientFilter{AppTypes: []clients.AppType{clients.AppSPA}, FirstParty: &yes}, all, []string{"c1"}, 1},
			{"global", storage.ClientFilter{Global: &yes}, all, []string{}, 0},
			{"not global", storage.ClientFilter{Global: &no}, all, []string{"c1", "c2", "c3", "c4", "c5"}, 5},
			{"second page of first-party", storage.ClientFilter{FirstParty: &yes}, storage.Page{Page: 1, PerPage: 2}, []string{"c5"}, 3},
			{"past the end", storage.ClientFilter{FirstParty: &yes}, storage.Page{Page: 2, PerPage: 2}, []string{}, 3},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.ListClients(ctx, tc.filter, tc.page)
				must(t, err, "ListClients")
				ids := []string{}
				for _, c := range got {
					ids = append(ids, c.ClientID)
				}
				wantEqual(t, ids, tc.want, "client_ids")
				wantEqual(t, total, tc.wantTotal, "total")
			})
		}
	})

	t.Run("list refuses an invalid page", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		for _, tc := range []struct {
			name string
			page storage.Page
		}{
			{"zero per page", storage.Page{Page: 0, PerPage: 0}},
			{"negative per page", storage.Page{Page: 0, PerPage: -1}},
			{"negative page", storage.Page{Page: -1, PerPage: 10}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, _, err := s.ListClients(ctx, storage.ClientFilter{}, tc.page); err == nil {
					t.Errorf("ListClients(%+v) succeeded, want an error", tc.page)
				}
			})
		}
	})
}
