// Package policies holds Portcullis's default Rego policies, embedded in
// the binary. bearer_auth evaluates data.portcullis.authz.decision; `policy
// <dir>` replaces these files with a directory of the operator's.
package policies

import "embed"

// Default is the embedded policy directory: the *.rego files and their
// *_test.rego unit tests.
//
//go:embed *.rego
var Default embed.FS
