package portcullis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// storageFlagHelp describes the --storage flag of the commands.
const storageFlagHelp = `--storage takes the same words as the storage option: "sqlite <path>" or
"postgres <dsn>". Placeholders such as {env.PORTCULLIS_PG_DSN} or
{file./run/secrets/pg-dsn} are replaced, which keeps a password off the
command line: --storage 'postgres {env.PORTCULLIS_PG_DSN}'.`

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "create-admin",
		Usage: "--issuer <url> --storage \"sqlite <path>\"|\"postgres <dsn>\" [--key-encryption-key <key>]",
		Short: "Creates a Management API admin client and prints its credentials",
		Long: `
Creates a machine-to-machine client with a grant for every Management API
scope in the given storage, and prints its client_id and client_secret as
JSON. The Management API resource server is created first if the storage
has none. The secret is shown only this once.

--issuer must be the issuer configured in the portcullis global option, since
the Management API's identifier is derived from it. --key-encryption-key
takes the value of the key_encryption_key option, with its placeholders,
e.g. --key-encryption-key '{env.PORTCULLIS_KEK}'; it is required when that
option is set. A running Portcullis sees the new client on its next reload.

` + storageFlagHelp,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("issuer", "", "Issuer URL, e.g. https://localhost:8443/ (required)")
			cmd.Flags().String("storage", "sqlite ./data/portcullis.db", "Storage backend and its argument")
			cmd.Flags().String("key-encryption-key", "", "The key_encryption_key option's value, e.g. {env.PORTCULLIS_KEK}")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdCreateAdmin)
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "migrate",
		Usage: "--storage \"sqlite <path>\"|\"postgres <dsn>\"",
		Short: "Brings the storage's schema up to date and prints its version",
		Long: `
Creates the storage's schema or upgrades it to the version this program
knows, and prints that version. Portcullis does the same when it starts, so
this is only needed to upgrade the schema ahead of a deployment, or to check
the connection. Instances starting meanwhile wait for it to finish.

` + storageFlagHelp,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("storage", "sqlite ./data/portcullis.db", "Storage backend and its argument")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdMigrate)
		},
	})
}

func cmdCreateAdmin(fl caddycmd.Flags) (int, error) {
	if err := createAdmin(context.Background(), fl.String("issuer"), fl.String("storage"), fl.String("key-encryption-key"), os.Stdout); err != nil {
		return 1, err
	}
	return 0, nil
}

// createAdmin creates an admin client in the storage described by spec
// (see openStorage) and writes its credentials to out as JSON. kek is as
// the key_encryption_key option.
func createAdmin(ctx context.Context, issuer, spec, kek string, out io.Writer) error {
	if issuer == "" {
		return errors.New("--issuer is required")
	}
	keyEncryptionKey, err := resolveKEK(caddy.NewReplacer(), kek)
	if err != nil {
		return fmt.Errorf("--key-encryption-key: %w", err)
	}
	st, err := openStorage(ctx, spec)
	if err != nil {
		return err
	}
	defer st.Close()
	cred, err := authserver.CreateAdminClient(ctx, st, issuer, keyEncryptionKey)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(cred)
}

func cmdMigrate(fl caddycmd.Flags) (int, error) {
	if err := migrate(context.Background(), fl.String("storage"), os.Stdout); err != nil {
		return 1, err
	}
	return 0, nil
}

// migrate opens the storage described by spec (see openStorage), which
// brings its schema up to date, and writes the schema version to out.
func migrate(ctx context.Context, spec string, out io.Writer) error {
	st, err := openStorage(ctx, spec)
	if err != nil {
		return err
	}
	defer st.Close()
	v, ok := st.(interface {
		SchemaVersion(ctx context.Context) (int, error)
	})
	if !ok {
		return errors.New("the storage backend has no schema version")
	}
	n, err := v.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "schema version %d\n", n)
	return err
}

// openStorage opens the storage described by spec, the --storage flag:
// a backend and its argument (which may hold spaces, as a keyword=value
// DSN does), with placeholders replaced.
func openStorage(ctx context.Context, spec string) (storage.Store, error) {
	backend, arg, _ := strings.Cut(strings.TrimSpace(spec), " ")
	args := []string{backend}
	if arg = strings.TrimSpace(arg); arg != "" {
		args = append(args, arg)
	}
	cfg, err := ParseStorage(args)
	if err != nil {
		return nil, err
	}
	cfg.expand(caddy.NewReplacer())
	return cfg.Open(ctx)
}
