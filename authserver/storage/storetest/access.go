package storetest

import (
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

func testResourceServers(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("round trip keeps every field", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		want := newResourceServer("a1", "https://a1.example/api")
		must(t, s.CreateResourceServer(ctx, want), "CreateResourceServer")
		got, err := s.ResourceServer(ctx, "a1")
		must(t, err, "ResourceServer")
		wantEqual(t, got, want, "ResourceServer")
		got, err = s.ResourceServerByIdentifier(ctx, "https://a1.example/api")
		must(t, err, "ResourceServerByIdentifier")
		wantEqual(t, got, want, "ResourceServerByIdentifier")
		_, err = s.ResourceServerByIdentifier(ctx, "https://a1.example/api/")
		wantErr(t, err, storage.ErrNotFound, "identifiers compare byte for byte")
	})

	t.Run("create conflicts", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			rs   *access.ResourceServer
		}{
			{"taken id", newResourceServer("a1", "https://other")},
			{"taken identifier", newResourceServer("other", "https://a1")},
			{"both taken", newResourceServer("a1", "https://a1")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				ctx := t.Context()
				must(t, s.CreateResourceServer(ctx, newResourceServer("a1", "https://a1")), "CreateResourceServer")
				wantErr(t, s.CreateResourceServer(ctx, tc.rs), storage.ErrConflict, "CreateResourceServer again")
				st := snapshot(t, s)
				wantEqual(t, st.APIs, []*access.ResourceServer{newResourceServer("a1", "https://a1")}, "APIs after the conflict")
			})
		}
	})

	t.Run("missing API is not found", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed(t, s)
		before := snapshot(t, s)
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"ResourceServer", func() error { _, err := s.ResourceServer(ctx, "nope"); return err }},
			{"ResourceServerByIdentifier", func() error { _, err := s.ResourceServerByIdentifier(ctx, "https://nope"); return err }},
			{"UpdateResourceServer", func() error { return s.UpdateResourceServer(ctx, newResourceServer("nope", "https://a1")) }},
			{"DeleteResourceServer", func() error { return s.DeleteResourceServer(ctx, "nope") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.call(), storage.ErrNotFound, tc.name)
			})
		}
		wantEqual(t, snapshot(t, s), before, "store after the failed calls")
	})

	t.Run("update replaces everything but the identifier", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed(t, s)
		rs := newResourceServer("a1", "https://changed")
		rs.Name = "Renamed"
		rs.Scopes = []access.Scope{{Value: "admin"}}
		rs.IsSystem = false
		rs.TokenDialect = access.DialectAuth0
		rs.SubjectTypeAuthorization.Client.Policy = access.PolicyRequireClientGrant
		must(t, s.UpdateResourceServer(ctx, rs), "UpdateResourceServer")
		wantEqual(t, rs.Identifier, "https://changed", "the caller's value")

		want := rs.Clone()
		want.Identifier = "https://a1"
		got, err := s.ResourceServer(ctx, "a1")
		must(t, err, "ResourceServer")
		wantEqual(t, got, want, "ResourceServer after UpdateResourceServer")
		got, err = s.ResourceServerByIdentifier(ctx, "https://a1")
		must(t, err, "ResourceServerByIdentifier of the kept identifier")
		wantEqual(t, got, want, "ResourceServerByIdentifier after UpdateResourceServer")
		_, err = s.ResourceServerByIdentifier(ctx, "https://changed")
		wantErr(t, err, storage.ErrNotFound, "ResourceServerByIdentifier of the refused identifier")
		// Changing the identifier to another API's is no conflict either.
		must(t, s.UpdateResourceServer(ctx, newResourceServer("a1", "https://a2")), "UpdateResourceServer to a taken identifier")
		got, err = s.ResourceServerByIdentifier(ctx, "https://a2")
		must(t, err, "ResourceServerByIdentifier")
		wantEqual(t, got.ID, "a2", "API with the identifier https://a2")
		wantEqual(t, len(snapshot(t, s).Grants), 4, "grants after updates")
	})

	t.Run("delete removes the API and its grants only", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed(t, s)
		must(t, s.DeleteResourceServer(ctx, "a1"), "DeleteResourceServer")
		_, err := s.ResourceServer(ctx, "a1")
		wantErr(t, err, storage.ErrNotFound, "ResourceServer after delete")
		_, err = s.ResourceServerByIdentifier(ctx, "https://a1")
		wantErr(t, err, storage.ErrNotFound, "ResourceServerByIdentifier after delete")
		st := snapshot(t, s)
		wantEqual(t, st.APIs, []*access.ResourceServer{newResourceServer("a2", "https://a2")}, "APIs left")
		wantEqual(t, grantIDs(st.Grants), []string{"g2", "g4"}, "grants left")
		wantEqual(t, len(st.Clients), 2, "clients left")
		wantErr(t, s.DeleteResourceServer(ctx, "a1"), storage.ErrNotFound, "DeleteResourceServer again")
		// The id and identifier are free again.
		must(t, s.CreateResourceServer(ctx, newResourceServer("a1", "https://a1")), "CreateResourceServer after delete")
	})

	t.Run("list", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		for _, id := range []string{"b", "d", "a", "c"} {
			must(t, s.CreateResourceServer(ctx, newResourceServer(id, "https://"+id)), "CreateResourceServer "+id)
		}
		for _, tc := range []struct {
			name string
			page storage.Page
			want []string
		}{
			{"everything", storage.Page{PerPage: 10}, []string{"a", "b", "c", "d"}},
			{"first page", storage.Page{PerPage: 3}, []string{"a", "b", "c"}},
			{"last page", storage.Page{Page: 1, PerPage: 3}, []string{"d"}},
			{"past the end", storage.Page{Page: 2, PerPage: 3}, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.ListResourceServers(ctx, tc.page)
				must(t, err, "ListResourceServers")
				ids := []string{}
				for _, rs := range got {
					wantEqual(t, rs, newResourceServer(rs.ID, "https://"+rs.ID), "listed API")
					ids = append(ids, rs.ID)
				}
				wantEqual(t, ids, tc.want, "ids")
				wantEqual(t, total, 4, "total")
			})
		}
		if _, _, err := s.ListResourceServers(ctx, storage.Page{}); err == nil {
			t.Error("ListResourceServers with PerPage 0 succeeded, want an error")
		}
	})
}

func testClientGrants(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("round trip keeps every field", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		want := newGrant("g1", "c1", "https://a1", access.SubjectUser)
		must(t, s.CreateClientGrant(ctx, want), "CreateClientGrant")
		got, err := s.ClientGrant(ctx, "g1")
		must(t, err, "ClientGrant")
		wantEqual(t, got, want, "ClientGrant")
		got, err = s.FindClientGrant(ctx, "c1", "https://a1", access.SubjectUser)
		must(t, err, "FindClientGrant")
		wantEqual(t, got, want, "FindClientGrant")
	})

	t.Run("create conflicts", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			g        *access.ClientGrant
			conflict bool
		}{
			{"taken id", newGrant("g1", "c2", "https://a2", access.SubjectUser), true},
			{"same client, audience and subject type", newGrant("g2", "c1", "https://a1", access.SubjectClient), true},
			{"other subject type", newGrant("g2", "c1", "https://a1", access.SubjectUser), false},
			{"other audience", newGrant("g2", "c1", "https://a2", access.SubjectClient), false},
			{"other client", newGrant("g2", "c2", "https://a1", access.SubjectClient), false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				ctx := t.Context()
				first := newGrant("g1", "c1", "https://a1", access.SubjectClient)
				must(t, s.CreateClientGrant(ctx, first), "CreateClientGrant")
				err := s.CreateClientGrant(ctx, tc.g)
				want := []*access.ClientGrant{first}
				if tc.conflict {
					wantErr(t, err, storage.ErrConflict, "second CreateClientGrant")
				} else {
					must(t, err, "second CreateClientGrant")
					want = append(want, tc.g)
				}
				wantEqual(t, snapshot(t, s).Grants, want, "grants")
			})
		}
	})

	t.Run("missing grant is not found", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed(t, s)
		before := snapshot(t, s)
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"ClientGrant", func() error { _, err := s.ClientGrant(ctx, "nope"); return err }},
			{"FindClientGrant, other subject type", func() error {
				_, err := s.FindClientGrant(ctx, "c1", "https://a1", access.SubjectUser)
				return err
			}},
			{"FindClientGrant, other audience", func() error {
				_, err := s.FindClientGrant(ctx, "c1", "https://nope", access.SubjectClient)
				return err
			}},
			{"FindClientGrant, other client", func() error {
				_, err := s.FindClientGrant(ctx, "nope", "https://a1", access.SubjectClient)
				return err
			}},
			{"UpdateClientGrant", func() error {
				return s.UpdateClientGrant(ctx, newGrant("nope", "c9", "https://a9", access.SubjectClient))
			}},
			{"DeleteClientGrant", func() error { return s.DeleteClientGrant(ctx, "nope") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.call(), storage.ErrNotFound, tc.name)
			})
		}
		wantEqual(t, snapshot(t, s), before, "store after the failed calls")
	})

	t.Run("update keeps client, audience and subject type", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed(t, s)
		g := newGrant("g1", "c2", "https://a2", access.SubjectUser) // g1 is c1, a1, client
		g.Scope = []string{"read:things"}
		g.AllowAllScopes = false
		g.OrganizationUsage = ""
		g.AuthorizationDetailsTypes = nil
		must(t, s.UpdateClientGrant(ctx, g), "UpdateClientGrant")
		wantEqual(t, g.ClientID, "c2", "the caller's value")

		want := g.Clone()
		want.ClientID, want.Audience, want.SubjectType = "c1", "https://a1", access.SubjectClient
		got, err := s.ClientGrant(ctx, "g1")
		must(t, err, "ClientGrant")
		wantEqual(t, got, want, "ClientGrant after UpdateClientGrant")
		got, err = s.FindClientGrant(ctx, "c1", "https://a1", access.SubjectClient)
		must(t, err, "FindClientGrant of the kept key")
		wantEqual(t, got, want, "FindClientGrant after UpdateClientGrant")
		_, err = s.FindClientGrant(ctx, "c2", "https://a2", access.SubjectUser)
		wantErr(t, err, storage.ErrNotFound, "FindClientGrant of the refused key")
		// Deleting c1 still takes the grant with it.
		must(t, s.DeleteClient(ctx, "c1"), "DeleteClient")
		_, err = s.ClientGrant(ctx, "g1")
		wantErr(t, err, storage.ErrNotFound, "ClientGrant after DeleteClient")
	})

	t.Run("delete removes that grant only", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed(t, s)
		must(t, s.DeleteClientGrant(ctx, "g1"), "DeleteClientGrant")
		_, err := s.ClientGrant(ctx, "g1")
		wantErr(t, err, storage.ErrNotFound, "ClientGrant after delete")
		_, err = s.FindClientGrant(ctx, "c1", "https://a1", access.SubjectClient)
		wantErr(t, err, storage.ErrNotFound, "FindClientGrant after delete")
		st := snapshot(t, s)
		wantEqual(t, grantIDs(st.Grants), []string{"g2", "g3", "g4"}, "grants left")
		wantEqual(t, len(st.Clients), 2, "clients left")
		wantEqual(t, len(st.APIs), 2, "APIs left")
		wantErr(t, s.DeleteClientGrant(ctx, "g1"), storage.ErrNotFound, "DeleteClientGrant again")
		must(t, s.CreateClientGrant(ctx, newGrant("g1", "c1", "https://a1", access.SubjectClient)), "CreateClientGrant after delete")
	})

	t.Run("list filters and pages", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		for _, g := range []*access.ClientGrant{
			newGrant("g5", "c2", "https://a", access.SubjectClient),
			newGrant("g3", "c1", "https://b", access.SubjectClient),
			newGrant("g1", "c1", "https://a", access.SubjectClient),
			newGrant("g4", "c2", "https://b", access.SubjectUser),
			newGrant("g2", "c1", "https://a", access.SubjectUser),
		} {
			must(t, s.CreateClientGrant(ctx, g), "CreateClientGrant "+g.ID)
		}
		all := storage.Page{PerPage: 100}
		for _, tc := range []struct {
			name      string
			filter    storage.GrantFilter
			page      storage.Page
			want      []string
			wantTotal int
		}{
			{"no filter", storage.GrantFilter{}, all, []string{"g1", "g2", "g3", "g4", "g5"}, 5},
			{"client", storage.GrantFilter{ClientID: "c1"}, all, []string{"g1", "g2", "g3"}, 3},
			{"audience", storage.GrantFilter{Audience: "https://a"}, all, []string{"g1", "g2", "g5"}, 3},
			{"subject type", storage.GrantFilter{SubjectType: access.SubjectUser}, all, []string{"g2", "g4"}, 2},
			{"client and audience", storage.GrantFilter{ClientID: "c1", Audience: "https://a"}, all, []string{"g1", "g2"}, 2},
			{"audience and subject type", storage.GrantFilter{Audience: "https://b", SubjectType: access.SubjectClient}, all, []string{"g3"}, 1},
			{"every field", storage.GrantFilter{ClientID: "c2", Audience: "https://b", SubjectType: access.SubjectUser}, all, []string{"g4"}, 1},
			{"no match", storage.GrantFilter{ClientID: "c3"}, all, []string{}, 0},
			{"no match of every field", storage.GrantFilter{ClientID: "c2", Audience: "https://a", SubjectType: access.SubjectUser}, all, []string{}, 0},
			{"first page of no filter", storage.GrantFilter{}, storage.Page{PerPage: 2}, []string{"g1", "g2"}, 5},
			{"second page of a client", storage.GrantFilter{ClientID: "c1"}, storage.Page{Page: 1, PerPage: 2}, []string{"g3"}, 3},
			{"past the end of an audience", storage.GrantFilter{Audience: "https://a"}, storage.Page{Page: 1, PerPage: 3}, []string{}, 3},
			{"from a grant", storage.GrantFilter{}, storage.Page{PerPage: 2, From: "g2"}, []string{"g2", "g3"}, 4},
			{"from a grant of a client", storage.GrantFilter{ClientID: "c1"}, storage.Page{PerPage: 5, From: "g2"}, []string{"g2", "g3"}, 2},
			{"from between grants", storage.GrantFilter{}, storage.Page{PerPage: 2, From: "g3a"}, []string{"g4", "g5"}, 2},
			{"from past the end", storage.GrantFilter{}, storage.Page{PerPage: 2, From: "g9"}, []string{}, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.ListClientGrants(ctx, tc.filter, tc.page)
				must(t, err, "ListClientGrants")
				for _, g := range got {
					wantEqual(t, g, newGrant(g.ID, g.ClientID, g.Audience, g.SubjectType), "listed grant")
				}
				wantEqual(t, grantIDs(got), tc.want, "grant ids")
				wantEqual(t, total, tc.wantTotal, "total")
			})
		}
		for _, p := range []storage.Page{{Page: -1, PerPage: 1}, {Page: 1, PerPage: 1, From: "g1"}} {
			if _, _, err := s.ListClientGrants(ctx, storage.GrantFilter{}, p); err == nil {
				t.Errorf("ListClientGrants(%+v) succeeded, want an error", p)
			}
		}
	})
}
