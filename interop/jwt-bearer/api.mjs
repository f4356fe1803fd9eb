// An API protected by Auth0's express-oauth2-jwt-bearer, written as its
// quickstart writes it and configured only from the environment:
//
//   ISSUER_BASE_URL  Portcullis's issuer URL, e.g. https://localhost:8443/
//   AUDIENCE         the API's identifier
//   PORT             the port to listen on, on 127.0.0.1
//
// Routes: /api/public needs no token; /api/private needs a valid access
// token for AUDIENCE; /api/private-scoped needs one with the read:messages
// scope. Each answers JSON.
//
// Node trusts a private CA only through NODE_EXTRA_CA_CERTS; TLS
// verification stays on.
import express from 'express';
import { auth, requiredScopes } from 'express-oauth2-jwt-bearer';
import { requireEnv } from '../env.mjs';

const port = Number(requireEnv('PORT'));

const checkJwt = auth({
  audience: requireEnv('AUDIENCE'),
  issuerBaseURL: requireEnv('ISSUER_BASE_URL'),
  tokenSigningAlg: 'RS256',
});

const app = express();

app.get('/api/public', (req, res) => {
  res.json({ message: 'public' });
});

app.get('/api/private', checkJwt, (req, res) => {
  res.json({ message: 'private', sub: req.auth.payload.sub });
});

app.get('/api/private-scoped', checkJwt, requiredScopes('read:messages'), (req, res) => {
  res.json({ message: 'private-scoped', sub: req.auth.payload.sub });
});

// express-oauth2-jwt-bearer's errors carry their status and the
// WWW-Authenticate header in err.headers, as Express's own error handler
// sends them; the body says which error it was.
app.use((err, req, res, next) => {
  if (res.headersSent) {
    next(err);
    return;
  }
  if (!err.status || err.status >= 500) {
    console.error(`${req.method} ${req.originalUrl}:`, err);
  }
  res.set(err.headers ?? {});
  res.status(err.status || 500).json({ error: err.code || err.name, error_description: err.message });
});

app.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${port}`);
});
