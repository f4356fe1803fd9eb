// A web app that signs its users in through Portcullis with Auth0's
// express-openid-connect, configured as for Auth0 itself and only from the
// environment:
//
//   ISSUER_BASE_URL  Portcullis's issuer URL, e.g. https://localhost:8443/
//   BASE_URL         this app's URL, e.g. http://localhost:3000
//   CLIENT_ID        a regular_web client whose callback is BASE_URL/callback
//   CLIENT_SECRET    its secret (not set with QUICKSTART)
//   SECRET           the secret that encrypts the session cookie
//   PORT             the port to listen on, on 127.0.0.1
//   AUDIENCE         optional: the API to get an access token for
//   SCOPE            optional: scopes asked for beyond openid profile email,
//                    such as offline_access or the API's
//   API_URL          optional: the URL that /call-api calls with the user's
//                    access token
//   IDP_LOGOUT       optional: "true" to have /logout sign the user out of
//                    Portcullis too (idpLogout: RP-Initiated Logout with the
//                    ID token as id_token_hint), not only out of this app
//   QUICKSTART       optional: "true" to configure the library as Auth0's
//                    quickstart does, with nothing but ISSUER_BASE_URL,
//                    BASE_URL, CLIENT_ID, SECRET and auth0Logout: no client
//                    secret and the library's default authorization parameters
//                    (response_type id_token, response_mode form_post,
//                    scope openid profile email). The other optional
//                    variables must not be set.
//
// Routes: / tells whether someone is signed in; /profile requires sign-in
// and answers the user and the ID token's claims as JSON; /call-api calls
// API_URL with the access token and answers the upstream's status and body.
// /login, /logout and /callback are express-openid-connect's.
//
// Node trusts a private CA only through NODE_EXTRA_CA_CERTS; TLS
// verification stays on.
import express from 'express';
import eoc from 'express-openid-connect';
import { requireEnv } from '../env.mjs';

const { auth, requiresAuth } = eoc;

const scope = ['openid profile email', process.env.SCOPE]
  .filter(Boolean)
  .join(' ');
const port = Number(requireEnv('PORT'));

const app = express();
const quickstart = process.env.QUICKSTART === 'true';
app.use(
  auth(
    quickstart
      ? {
          authRequired: false,
          issuerBaseURL: requireEnv('ISSUER_BASE_URL'),
          baseURL: requireEnv('BASE_URL'),
          clientID: requireEnv('CLIENT_ID'),
          secret: requireEnv('SECRET'),
          auth0Logout: true,
        }
      : {
          authRequired: false,
          issuerBaseURL: requireEnv('ISSUER_BASE_URL'),
          baseURL: requireEnv('BASE_URL'),
          clientID: requireEnv('CLIENT_ID'),
          clientSecret: requireEnv('CLIENT_SECRET'),
          secret: requireEnv('SECRET'),
          idpLogout: process.env.IDP_LOGOUT === 'true',
          authorizationParams: {
            response_type: 'code',
            scope,
            ...(process.env.AUDIENCE && { audience: process.env.AUDIENCE }),
          },
        },
  ),
);

app.get('/', (req, res) => {
  res.type('text/plain').send(
    req.oidc.isAuthenticated()
      ? `signed in as ${req.oidc.user.sub}`
      : 'signed out',
  );
});

// express-openid-connect keeps the access token but not the scope of the
// token response, so the scope is read from the token's claims when it is
// a JWT. The claims are only shown, not trusted: the API checks the token.
function accessTokenClaims(token) {
  const parts = token?.access_token?.split('.');
  if (parts?.length !== 3) {
    return undefined;
  }
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString());
}

app.get('/profile', requiresAuth(), (req, res) => {
  const claims = accessTokenClaims(req.oidc.accessToken);
  res.json({
    user: req.oidc.user,
    idTokenClaims: req.oidc.idTokenClaims,
    accessTokenScope: claims?.scope,
  });
});

if (process.env.API_URL) {
  app.get('/call-api', requiresAuth(), async (req, res, next) => {
    try {
      const { access_token } = req.oidc.accessToken ?? {};
      if (!access_token) {
        res.status(401).json({ error: 'no access token in the session' });
        return;
      }
      const upstream = await fetch(process.env.API_URL, {
        headers: { authorization: `Bearer ${access_token}` },
      });
      const text = await upstream.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      res.json({ status: upstream.status, body });
    } catch (err) {
      next(err);
    }
  });
}

// Errors, such as a discovery document or a token response that
// express-openid-connect refuses, are logged and answered as JSON so that
// the test driving this app can show them.
app.use((err, req, res, next) => {
  console.error(`${req.method} ${req.originalUrl}:`, err);
  if (res.headersSent) {
    next(err);
    return;
  }
  res.status(err.status || 500).json({
    error: err.error || err.name,
    error_description: err.error_description || err.message,
    cause: err.cause && (err.cause.message ?? JSON.stringify(err.cause)),
  });
});

app.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${port}`);
});
