package storage

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"testing"
)

// readOnly are the Store methods that change nothing a CachedStore caches,
// so CachedStore may leave them to the embedded Store. InstallationSecret
// may write, but only installation secrets, which are never cached. Every
// other method writes and must be declared on CachedStore, so that it
// empties the cache: a method added to Store has to be put in one class or
// the other.
var readOnly = map[string]bool{
	"Client": true, "ListClients": true,
	"ResourceServer": true, "ResourceServerByIdentifier": true, "ListResourceServers": true,
	"ClientGrant": true, "FindClientGrant": true, "ListClientGrants": true,
	"User": true, "UserByEmail": true, "ListUsers": true,
	"Role": true, "ListRoles": true,
	"RolePermissions": true, "UserRoles": true, "RoleUsers": true, "UserPermissions": true,
	"EffectivePermissions": true,
	"SigningKeys":          true,
	"InstallationSecret":   true,
	"Close":                true,
	// Sign-in state and settings are never cached, and nothing cached
	// depends on them.
	"CreateSession": true, "Session": true, "UpdateSession": true, "DeleteSession": true,
	"CreateAuthorizationCode": true, "ConsumeAuthorizationCode": true,
	"CreateRefreshToken": true, "RefreshToken": true, "RotateRefreshToken": true,
	"TouchRefreshToken": true, "RevokeRefreshTokenFamily": true,
	"Consent": true, "SaveConsent": true,
	"RecordLoginFailure": true, "ForgetLoginFailure": true, "LoginFailures": true, "ClearLoginFailures": true,
	"PurgeExpired": true, "Setting": true, "SaveSetting": true,
	// The change version is what tells the cache to empty itself; rate
	// limits are never cached.
	"MarkChanged": true, "ChangeVersion": true, "CountHits": true,
	// A sign-in writes only the user's sign-in record, which nothing
	// cached depends on: sign-ins must not empty every instance's cache.
	"RecordSignIn": true,
}

func TestCachedStoreOverridesEveryWrite(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "cached.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
			continue
		}
		if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok && id.Name == "CachedStore" {
				declared[fn.Name.Name] = true
			}
		}
	}
	store := reflect.TypeFor[Store]()
	for i := range store.NumMethod() {
		name := store.Method(i).Name
		if !readOnly[name] && !declared[name] {
			t.Errorf("Store.%s is not in readOnly and CachedStore does not override it: a write through a CachedStore would leave its cache stale", name)
		}
	}
	for name := range readOnly {
		if _, ok := store.MethodByName(name); !ok {
			t.Errorf("readOnly names %s, which Store does not have", name)
		}
	}
}
