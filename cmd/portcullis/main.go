// Command portcullis is Caddy with Portcullis's modules: every standard
// Caddy command and module, plus the embedded authorization server.
//
// It imports only the modules.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/portcullis-gw/portcullis/modules/bearerauth"
	_ "github.com/portcullis-gw/portcullis/modules/echo"
	_ "github.com/portcullis-gw/portcullis/modules/forwardcert"
	_ "github.com/portcullis-gw/portcullis/modules/portcullis"
)

func main() {
	caddycmd.Main()
}
