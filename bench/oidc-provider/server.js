// node oidc-provider as bench/issuance.sh's comparison: client_credentials
// only, JWT access tokens signed ES256 or RS256 by the API (resource
// indicator) asked for, over HTTPS, one worker per CPU (cluster).
//
// Environment: PORT, ISSUER (https://localhost:PORT), TLS_CERT and TLS_KEY
// (PEM files), CLIENT_ID, CLIENT_SECRET, WORKERS (default: the CPU count).
// APIs: https://es256.bench.example.com/ and https://rs256.bench.example.com/,
// scope read:bench.
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';

import Provider from 'oidc-provider';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return v;
};

const port = Number(env('PORT'));
const workers = Number(process.env.WORKERS || os.availableParallelism());

if (cluster.isPrimary) {
  // One key set for every worker, so that any of them signs alike.
  const jwk = (type, opts, alg) => ({
    ...crypto.generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }),
    alg,
    use: 'sig',
    kid: alg.toLowerCase(),
  });
  const keys = [jwk('ec', { namedCurve: 'P-256' }, 'ES256'), jwk('rsa', { modulusLength: 2048 }, 'RS256')];
  for (let i = 0; i < workers; i++) {
    cluster.fork({ BENCH_JWKS: JSON.stringify({ keys }) });
  }
  // SIGTERM stops the workers, then the primary once they are gone.
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) {
      w.kill();
    }
  });
  cluster.on('exit', (w, code) => {
    if (!stopping) {
      console.error(`worker ${w.process.pid} exited: ${code}`);
      process.exit(1);
    }
    if (Object.keys(cluster.workers).length === 0) {
      process.exit(0);
    }
  });
} else {
  const apis = {
    'https://es256.bench.example.com/': 'ES256',
    'https://rs256.bench.example.com/': 'RS256',
  };
  const provider = new Provider(env('ISSUER'), {
    jwks: JSON.parse(env('BENCH_JWKS')),
    clients: [{
      client_id: env('CLIENT_ID'),
      client_secret: env('CLIENT_SECRET'),
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    ttl: { ClientCredentials: 86400 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo(ctx, resource) {
          const alg = apis[resource];
          if (!alg) {
            throw new Provider.errors.InvalidTarget();
          }
          return { scope: 'read:bench', accessTokenFormat: 'jwt', accessTokenTTL: 86400, jwt: { sign: { alg } } };
        },
      },
    },
  });
  const tls = { cert: fs.readFileSync(env('TLS_CERT')), key: fs.readFileSync(env('TLS_KEY')) };
  https.createServer(tls, provider.callback()).listen(port, '127.0.0.1');
}
