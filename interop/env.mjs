// requireEnv returns the environment variable name, which the Go test
// that runs a script of interop/ sets; a script without it stops at once.
export function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} must be set: the Go tests of interop/ set it`);
  }
  return value;
}
