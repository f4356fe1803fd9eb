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
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "create-admin",
		Usage: "--issuer <url> --storage \"sqlite <path>\" [--key-encryption-key <key>]",
		Short: "Creates a Management API admin client and prints its credentials",
		Long: `
Creates a machine-to-machine client with a grant for every Management API
scope in the given storage, and prints its client_id and client_secret as
JSON. The Management API resource server is created first if the storage
has none. The secret is shown only this once.

--issuer must be the issuer configured in the portcullis global option, since
the Management API's identifier is derived from it. --storage takes the same
words as the storage option, e.g. --storage "sqlite ./data/portcullis.db".
--key-encryption-key takes the value of the key_encryption_key option, with
its placeholders, e.g. --key-encryption-key '{env.PORTCULLIS_KEK}'; it is
required when that option is set.
A running Portcullis sees the new client on its next reload.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("issuer", "", "Issuer URL, e.g. https://localhost:8443/ (required)")
			cmd.Flags().String("storage", "sqlite ./data/portcullis.db", "Storage backend and its argument")
			cmd.Flags().String("key-encryption-key", "", "The key_encryption_key option's value, e.g. {env.PORTCULLIS_KEK}")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdCreateAdmin)
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
// ("sqlite <path>") and writes its credentials to out as JSON. kek is as
// the key_encryption_key option.
func createAdmin(ctx context.Context, issuer, spec, kek string, out io.Writer) error {
	if issuer == "" {
		return errors.New("--issuer is required")
	}
	keyEncryptionKey, err := resolveKEK(caddy.NewReplacer(), kek)
	if err != nil {
		return fmt.Errorf("--key-encryption-key: %w", err)
	}
	cfg, err := ParseStorage(strings.Fields(spec))
	if err != nil {
		return err
	}
	st, err := cfg.Open()
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
