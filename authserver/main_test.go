package authserver_test

import (
	"os"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/users"
)

// TestMain makes password hashing cheap: the tests hash and verify
// passwords by the hundred, and argon2id with the production parameters
// spends tens of milliseconds of a core on each. Time stays 2, as
// TestSignInRehashesOldParameters needs parameters it can weaken; the
// parameters themselves are tested in package users.
func TestMain(m *testing.M) {
	users.DefaultArgon2Params.Memory = 64
	os.Exit(m.Run())
}
