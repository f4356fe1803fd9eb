// A web app that signs its users in through Portcullis with passport-auth0,
// written as Auth0's Express quickstart for that strategy writes it
// (express-session, passport, an Auth0Strategy with the domain, client ID,
// secret and callback URL) and configured only from the environment:
//
//   DOMAIN         Portcullis's host:port, e.g. localhost:8443
//   BASE_URL       this app's URL, e.g. http://localhost:3000
//   CLIENT_ID      a regular_web client whose callback is BASE_URL/callback
//   CLIENT_SECRET  its secret
//   SECRET         the secret that signs the session cookie
//   PORT           the port to listen on, on 127.0.0.1
//
// Routes: / tells whether someone is signed in; /login starts the sign-in;
// /callback ends it; /profile answers the profile passport-auth0 read from
// Portcullis's /userinfo (it sends the access token in the query string)
// as JSON.
//
// Node trusts a private CA only through NODE_EXTRA_CA_CERTS; TLS
// verification stays on.
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import Auth0Strategy from 'passport-auth0';
import { requireEnv } from '../env.mjs';

const port = Number(requireEnv('PORT'));

passport.use(new Auth0Strategy(
  {
    domain: requireEnv('DOMAIN'),
    clientID: requireEnv('CLIENT_ID'),
    clientSecret: requireEnv('CLIENT_SECRET'),
    callbackURL: `${requireEnv('BASE_URL')}/callback`,
  },
  (accessToken, refreshToken, extraParams, profile, done) => done(null, profile),
));
passport.serializeUser((user, done) => done(null, user));
passport.deserializeUser((user, done) => done(null, user));

const app = express();
app.use(session({ secret: requireEnv('SECRET'), resave: false, saveUninitialized: true }));
app.use(passport.initialize());
app.use(passport.session());

app.get('/', (req, res) => {
  res.type('text/plain').send(req.user ? `signed in as ${req.user.id}` : 'signed out');
});

app.get('/login', passport.authenticate('auth0', { scope: 'openid email profile' }), (req, res) => {
  res.redirect('/');
});

app.get('/callback', (req, res, next) => {
  passport.authenticate('auth0', (err, user, info) => {
    if (err) {
      next(err);
      return;
    }
    if (!user) {
      res.status(401).json({ error: 'sign-in failed', info: String(info ?? '') });
      return;
    }
    req.logIn(user, (err) => (err ? next(err) : res.redirect('/profile')));
  })(req, res, next);
});

app.get('/profile', (req, res) => {
  if (!req.user) {
    res.redirect('/login');
    return;
  }
  const { _raw, _json, ...profile } = req.user;
  res.json({ profile, userinfo: _json });
});

// Errors, such as a /userinfo answer that passport-auth0 refuses, are
// logged and answered as JSON so that the test driving this app can show
// them.
app.use((err, req, res, next) => {
  console.error(`${req.method} ${req.originalUrl}:`, err);
  if (res.headersSent) {
    next(err);
    return;
  }
  res.status(err.status || 500).json({
    error: err.code || err.name,
    error_description: err.message,
    cause: err.oauthError && (err.oauthError.data ?? String(err.oauthError)),
  });
});

app.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${port}`);
});
