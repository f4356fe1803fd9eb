package portcullis

// LiteralSecrets exposes literalSecrets to the external tests.
var LiteralSecrets = (*App).literalSecrets
