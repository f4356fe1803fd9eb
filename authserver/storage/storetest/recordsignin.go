package storetest

import (
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// testRecordSignIn checks that a sign-in writes its record, and the
// rehashed password only over the hash it checked, so that it undoes
// nothing written to the user since the sign-in read it; and that an
// update keeps a sign-in recorded since the update's caller read the user.
func testRecordSignIn(t *testing.T, open func(t *testing.T) storage.Store) {
	at := created.Add(50*time.Hour + 987654321)
	const ip = "2001:db8::9"
	// signedIn is u once RecordSignIn recorded a sign-in at `at` from ip.
	signedIn := func(u *users.User) *users.User {
		w := u.Clone()
		w.LastLogin, w.LastIP = at, ip
		w.LoginsCount++
		return w
	}
	// create stores newUser(id), not blocked, and returns it as the store
	// has it: what a sign-in reads.
	create := func(t *testing.T, s storage.Store, id string) *users.User {
		t.Helper()
		u := newUser(id)
		u.Blocked = false
		must(t, s.CreateUser(t.Context(), u), "CreateUser")
		read, err := s.User(t.Context(), u.UserID)
		must(t, err, "User")
		return read
	}
	wantStored := func(t *testing.T, s storage.Store, want *users.User, what string) {
		t.Helper()
		got, err := s.User(t.Context(), want.UserID)
		must(t, err, "User")
		wantEqual(t, got, want, what)
	}

	t.Run("writes the sign-in record only", func(t *testing.T) {
		s := open(t)
		read := create(t, s, "u1")
		never := newUser("never")
		never.LastLogin, never.LastIP, never.LoginsCount = time.Time{}, "", 0
		must(t, s.CreateUser(t.Context(), never), "CreateUser")
		for _, u := range []*users.User{read, never} {
			must(t, s.RecordSignIn(t.Context(), u.UserID, storage.SignIn{At: at, IP: ip, VerifiedHash: u.PasswordHash}), "RecordSignIn")
			wantStored(t, s, signedIn(u), "user after RecordSignIn")
		}
	})

	t.Run("stores the rehash over the hash it checked", func(t *testing.T) {
		s := open(t)
		read := create(t, s, "u1")
		must(t, s.RecordSignIn(t.Context(), read.UserID, storage.SignIn{At: at, IP: ip, VerifiedHash: read.PasswordHash, Rehash: []byte("rehashed\x00")}), "RecordSignIn")
		want := signedIn(read)
		want.PasswordHash = []byte("rehashed\x00")
		wantStored(t, s, want, "user after RecordSignIn with a rehash")
	})

	// What an administrator writes between a sign-in's read of the user
	// and its RecordSignIn stays.
	for _, tc := range []struct {
		name   string
		change func(u *users.User)
	}{
		{"a block", func(u *users.User) { u.Blocked = true }},
		{"a password change", func(u *users.User) { u.PasswordHash = []byte("new password's hash") }},
		{"a block and a password change", func(u *users.User) {
			u.Blocked = true
			u.PasswordHash = []byte("new password's hash")
		}},
		{"a profile change", func(u *users.User) {
			u.Email = "renamed@example.com"
			u.Name = "Renamed"
			u.AppMetadata = map[string]any{"plan": "silver"}
		}},
	} {
		t.Run(tc.name+" since the sign-in's read stays", func(t *testing.T) {
			s := open(t)
			read := create(t, s, "u1")
			changed := read.Clone()
			tc.change(changed)
			must(t, s.UpdateUser(t.Context(), changed), "UpdateUser between the sign-in's read and its record")
			in := storage.SignIn{At: at, IP: ip, VerifiedHash: read.PasswordHash, Rehash: []byte("rehashed\x00")}
			must(t, s.RecordSignIn(t.Context(), read.UserID, in), "RecordSignIn")
			want := signedIn(changed)
			if string(changed.PasswordHash) == string(read.PasswordHash) {
				want.PasswordHash = in.Rehash
			}
			wantStored(t, s, want, "user after the sign-in")
		})
	}

	t.Run("an update keeps a sign-in recorded since its read", func(t *testing.T) {
		s := open(t)
		read := create(t, s, "u1")
		must(t, s.RecordSignIn(t.Context(), read.UserID, storage.SignIn{At: at, IP: ip, VerifiedHash: read.PasswordHash}), "RecordSignIn")
		changed := read.Clone()
		changed.Blocked = true
		changed.Name = "Renamed"
		must(t, s.UpdateUser(t.Context(), changed), "UpdateUser of the user read before the sign-in")
		wantStored(t, s, signedIn(changed), "user after the update")
	})

	t.Run("missing user is not found", func(t *testing.T) {
		s := open(t)
		err := s.RecordSignIn(t.Context(), "auth0|nope", storage.SignIn{At: at, IP: ip})
		wantErr(t, err, storage.ErrNotFound, "RecordSignIn of a missing user")
		_, err = s.User(t.Context(), "auth0|nope")
		wantErr(t, err, storage.ErrNotFound, "User after RecordSignIn of a missing user")
	})
}
