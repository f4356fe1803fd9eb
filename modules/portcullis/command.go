package portcullis

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/portcullis-gw/portcullis/authserver"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "create-admin",
		Usage: "--issuer <url> --storage \"sqlite <path>\"",
		Short: "Creates a Management API admin client and prints its credentials",
		Long: `
Creates a machine-to-machine client with a grant for every Management API
scope in the given storage, and prints its client_id and client_secret as
JSON. The Management API resource server is created first if the storage
has none. The secret is shown only this once.

--issuer must be the issuer configured in the portcullis global option, since
the Management API's identifier is derived from it. --storage takes the same
words as the storage option, e.g. --storage "sqlite ./data/portcullis.db".
A running Portcullis sees the new client on its next reload.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("issuer", "", "Issuer URL, e.g. https://localhost:8443/ (required)")
			cmd.Flags().String("storage", "sqlite ./data/portcullis.db", "Storage backend and its argument")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdCreateAdmin)
		},
	})
}

func cmdCreateAdmin(fl caddycmd.Flags) (int, error) {
	issuer := fl.String("issuer")
	if issuer == "" {
		return exitFailure, errors.New("--issuer is required")
	}
	cfg, err := ParseStorage(strings.Fields(fl.String("storage")))
	if err != nil {
		return exitFailure, err
	}
	st, err := cfg.Open()
	if err != nil {
		return exitFailure, err
	}
	defer st.Close()
	cred, err := authserver.CreateAdminClient(context.Background(), st, issuer)
	if err != nil {
		return exitFailure, err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cred); err != nil {
		return exitFailure, err
	}
	return 0, nil
}

// exitFailure is the exit status of a failed command.
const exitFailure = 1
