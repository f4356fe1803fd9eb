// Auth0's Node SDK 7.x against a running Portcullis.
//
// Each call is made as the SDK's README shows it, with the SDK's default
// parameters (every list asks for totals, 50 at a time; the checkpoint
// lists send include_totals=true&take=50), and every object the calls work
// on is created with the Management API's defaults: nothing here is shaped
// to suit Portcullis. The environment is that of ../auth0-sdk:
//
//   PORTCULLIS_DOMAIN         host:port of Portcullis, e.g. localhost:8443
//   PORTCULLIS_CLIENT_ID      a client with every Management API scope
//   PORTCULLIS_CLIENT_SECRET  its secret
//   PORTCULLIS_TEST_CERT_PEM  a self-signed certificate (PEM) to register as
//                             an x509_cert credential
//
// TLS is verified as usual; for a local CA pass its root in
// NODE_EXTRA_CA_CERTS. interop/interop_test.go runs this file against a
// fresh server: go test ./interop/ -run TestAuth0NodeSDKv7
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, randomUUID } from 'node:crypto';

import { ManagementClient, ManagementError } from 'auth0';
// As of 7.x the SDK's authentication client is only in its legacy entry
// point (the 4.x AuthenticationClient, which sends the secret in the body).
import { AuthenticationClient } from 'auth0/legacy';
// What the 7.x SDK's README points to for authentication instead.
import { AuthClient } from '@auth0/auth0-auth-js';
import { requireEnv } from '../env.mjs';

const domain = requireEnv('PORTCULLIS_DOMAIN');
const clientId = requireEnv('PORTCULLIS_CLIENT_ID');
const clientSecret = requireEnv('PORTCULLIS_CLIENT_SECRET');
const certPEM = requireEnv('PORTCULLIS_TEST_CERT_PEM');

// Reassigned after a signing key is revoked: the token it holds was
// signed with that key.
let management = new ManagementClient({ domain, clientId, clientSecret });

// Names unique to this run, so that the file may run against a server in use.
const run = randomUUID().slice(0, 8);
const apiIdentifier = `https://interop-v7-${run}.example.com/api`;
const managementAudience = `https://${domain}/api/v2/`;

// Objects made by `before`, with the Management API's defaults, and removed
// by `after`.
let api;
let m2m;
let grant;
let user;
let role;
// Extra objects a test made, removed by `after` if the test failed halfway.
const cleanups = [];

before(async () => {
  api = await management.resourceServers.create({
    name: `Interop v7 API ${run}`,
    identifier: apiIdentifier,
    scopes: [
      { value: 'read:things', description: 'Read things' },
      { value: 'write:things', description: 'Write things' },
    ],
  });
  // An M2M application as the dashboard's "Create Application" makes it:
  // a name and an application type, nothing else.
  m2m = await management.clients.create({ name: `Interop v7 M2M ${run}`, app_type: 'non_interactive' });
  grant = await management.clientGrants.create({ client_id: m2m.client_id, audience: apiIdentifier, scope: ['read:things'] });
  user = await management.users.create({
    connection: 'Username-Password-Authentication',
    email: `v7-${run}@example.com`,
    password: `Pw-${run}-long-enough!`,
  });
  role = await management.roles.create({ name: `v7-role-${run}`, description: 'from the 7.x SDK' });
});

after(async () => {
  await Promise.allSettled(cleanups.map((f) => f()));
  await Promise.allSettled([
    grant && management.clientGrants.delete(grant.id),
    role && management.roles.delete(role.id),
    user && management.users.delete(user.user_id),
  ]);
  await Promise.allSettled([
    m2m && management.clients.delete(m2m.client_id),
    api && management.resourceServers.delete(api.id),
  ]);
});

// rejectsWith awaits promise, which must fail with a ManagementError of the
// given status whose body is Auth0's error shape, and returns that error.
async function rejectsWith(promise, statusCode) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected a ManagementError ${statusCode}, but the call succeeded`);
  assert.ok(err instanceof ManagementError, `expected a ManagementError, got ${err?.name}: ${err?.message}`);
  assert.equal(err.statusCode, statusCode, `statusCode (body: ${JSON.stringify(err.body)})`);
  assert.equal(err.body?.statusCode, statusCode, `body.statusCode (body: ${JSON.stringify(err.body)})`);
  for (const field of ['error', 'message', 'errorCode']) {
    assert.equal(typeof err.body?.[field], 'string', `body.${field} (body: ${JSON.stringify(err.body)})`);
  }
  return err;
}

// collect reads every item of a paginated list, page after page.
async function collect(pagePromise) {
  const items = [];
  for await (const item of await pagePromise) {
    items.push(item);
  }
  return items;
}

// queryOf returns the query parameters of the request that made page.
function queryOf(page) {
  return Object.fromEntries(new URL(page.rawResponse.url).searchParams);
}

function decodeJWT(token) {
  const [header, payload] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));
  return { header, payload };
}

describe('resourceServers', () => {
  it('create answers the API with its defaults', () => {
    assert.match(api.id, /./);
    assert.equal(api.identifier, apiIdentifier);
    assert.equal(api.signing_alg, 'RS256');
    assert.equal(api.token_lifetime, 86400);
    assert.equal(api.is_system, false);
  });

  it('get, by id and by identifier', async () => {
    assert.deepEqual(await management.resourceServers.get(api.id), api);
    assert.equal((await management.resourceServers.get(apiIdentifier)).id, api.id);
  });

  it('list with the defaults (page=0, per_page=50, include_totals=true) and iterated', async () => {
    const page = await management.resourceServers.list();
    assert.deepEqual(queryOf(page), { page: '0', per_page: '50', include_totals: 'true' });
    assert.equal(page.response.start, 0);
    assert.equal(page.response.limit, 50);
    assert.equal(page.response.total, page.data.length);
    assert.ok(page.data.some((rs) => rs.id === api.id));
    assert.ok(page.data.some((rs) => rs.is_system && rs.identifier === managementAudience));
    const all = await collect(management.resourceServers.list());
    assert.deepEqual(all.map((rs) => rs.id), page.data.map((rs) => rs.id));
  });

  it('list one at a time, page after page', async () => {
    const total = (await management.resourceServers.list()).response.total;
    const ids = (await collect(management.resourceServers.list({ per_page: 1 }))).map((rs) => rs.id);
    assert.equal(ids.length, total);
    assert.equal(new Set(ids).size, total, 'no API is listed twice');
    const second = await management.resourceServers.list({ page: 1, per_page: 1 });
    assert.deepEqual(second.data.map((rs) => rs.id), [ids[1]]);
    assert.equal(second.response.start, 1);
  });

  it('update', async () => {
    const updated = await management.resourceServers.update(api.id, { token_lifetime: 7200 });
    assert.equal(updated.token_lifetime, 7200);
    assert.equal(updated.name, api.name);
  });

  it('delete', async () => {
    const extra = await management.resourceServers.create({ identifier: `https://interop-v7-${run}.example.com/extra` });
    cleanups.push(() => management.resourceServers.delete(extra.id));
    await management.resourceServers.delete(extra.id);
    await rejectsWith(management.resourceServers.get(extra.id), 404);
  });
});

describe('clients', () => {
  it('create answers the secret and the defaults', () => {
    assert.equal(typeof m2m.client_secret, 'string');
    assert.ok(m2m.client_secret.length >= 32);
    assert.equal(m2m.app_type, 'non_interactive');
    assert.equal(m2m.token_endpoint_auth_method, 'client_secret_post');
  });

  it('get, whole and projected', async () => {
    const got = await management.clients.get(m2m.client_id);
    assert.equal(got.name, m2m.name);
    assert.ok(!('client_secret' in got));
    const projected = await management.clients.get(m2m.client_id, { fields: 'client_id,name', include_fields: true });
    assert.deepEqual(projected, { client_id: m2m.client_id, name: m2m.name });
  });

  it('list with the defaults (page=0, per_page=50, include_totals=true) and iterated', async () => {
    const page = await management.clients.list();
    assert.deepEqual(queryOf(page), { page: '0', per_page: '50', include_totals: 'true' });
    assert.equal(page.response.total, page.data.length);
    assert.ok(page.data.some((c) => c.client_id === m2m.client_id));
    assert.ok(page.data.every((c) => !('client_secret' in c)));
    const all = await collect(management.clients.list());
    assert.deepEqual(all.map((c) => c.client_id), page.data.map((c) => c.client_id));
  });

  it('list one at a time, page after page', async () => {
    const total = (await management.clients.list()).response.total;
    const ids = (await collect(management.clients.list({ per_page: 1 }))).map((c) => c.client_id);
    assert.equal(ids.length, total);
    assert.equal(new Set(ids).size, total);
  });

  it('list filtered by app_type, is_first_party and is_global', async () => {
    const m2ms = (await management.clients.list({ app_type: 'non_interactive' })).data;
    assert.ok(m2ms.some((c) => c.client_id === m2m.client_id));
    assert.ok(m2ms.every((c) => c.app_type === 'non_interactive'));
    const spas = (await management.clients.list({ app_type: 'spa' })).data;
    assert.ok(spas.every((c) => c.app_type === 'spa'));
    const firstParty = (await management.clients.list({ is_first_party: true })).data;
    assert.ok(firstParty.some((c) => c.client_id === m2m.client_id));
    assert.deepEqual((await management.clients.list({ is_global: true })).data, []);
  });

  it('update', async () => {
    const updated = await management.clients.update(m2m.client_id, { description: `updated ${run}` });
    assert.equal(updated.description, `updated ${run}`);
    assert.equal(updated.name, m2m.name);
  });

  it('rotateSecret', async () => {
    const extra = await management.clients.create({ name: `Interop v7 rotate ${run}` });
    cleanups.push(() => management.clients.delete(extra.client_id));
    const rotated = await management.clients.rotateSecret(extra.client_id);
    assert.equal(rotated.client_id, extra.client_id);
    assert.notEqual(rotated.client_secret, extra.client_secret);
    await management.clients.delete(extra.client_id);
    await rejectsWith(management.clients.get(extra.client_id), 404);
  });

  it('credentials: create, list, get, update, delete', async () => {
    const cert = new X509Certificate(certPEM);
    const cred = await management.clients.credentials.create(m2m.client_id, {
      name: 'interop cert', credential_type: 'x509_cert', pem: certPEM,
    });
    assert.equal(cred.thumbprint_sha256, createHash('sha256').update(cert.raw).digest('base64url'));
    assert.deepEqual(await management.clients.credentials.list(m2m.client_id), [cred]);
    assert.deepEqual(await management.clients.credentials.get(m2m.client_id, cred.id), cred);
    const updated = await management.clients.credentials.update(m2m.client_id, cred.id, { expires_at: '2031-01-01T00:00:00.000Z' });
    assert.equal(new Date(updated.expires_at).toISOString(), '2031-01-01T00:00:00.000Z');
    await management.clients.credentials.delete(m2m.client_id, cred.id);
    await rejectsWith(management.clients.credentials.get(m2m.client_id, cred.id), 404);
  });
});

describe('clientGrants', () => {
  it('create', () => {
    assert.equal(grant.client_id, m2m.client_id);
    assert.equal(grant.audience, apiIdentifier);
    assert.deepEqual(grant.scope, ['read:things']);
  });

  it('get', async () => {
    assert.deepEqual(await management.clientGrants.get(grant.id), grant);
  });

  it('list with the defaults (include_totals=true, take=50: checkpoint pagination)', async () => {
    const page = await management.clientGrants.list();
    assert.deepEqual(queryOf(page), { include_totals: 'true', take: '50' });
    assert.ok(page.data.some((g) => g.id === grant.id));
    const all = await collect(management.clientGrants.list());
    assert.ok(all.some((g) => g.id === grant.id));
    assert.ok(all.some((g) => g.client_id === clientId && g.audience === managementAudience));
  });

  it('list one at a time, from checkpoint to checkpoint', async () => {
    const all = await collect(management.clientGrants.list());
    const ids = (await collect(management.clientGrants.list({ take: 1 }))).map((g) => g.id);
    assert.deepEqual(ids, all.map((g) => g.id));
    const first = await management.clientGrants.list({ take: 1 });
    assert.equal(first.data.length, 1);
    assert.ok(first.hasNextPage(), 'a next checkpoint is answered while grants are left');
  });

  it('list filtered by client_id and audience', async () => {
    assert.deepEqual((await management.clientGrants.list({ client_id: m2m.client_id })).data, [grant]);
    assert.deepEqual((await management.clientGrants.list({ audience: apiIdentifier })).data, [grant]);
    assert.deepEqual((await management.clientGrants.list({ client_id: m2m.client_id, audience: managementAudience })).data, []);
  });

  it('update', async () => {
    const updated = await management.clientGrants.update(grant.id, { scope: ['read:things', 'write:things'] });
    assert.deepEqual(updated.scope, ['read:things', 'write:things']);
    grant = updated;
  });

  it('delete', async () => {
    const extra = await management.clientGrants.create({ client_id: m2m.client_id, audience: managementAudience, scope: [] });
    cleanups.push(() => management.clientGrants.delete(extra.id));
    await management.clientGrants.delete(extra.id);
    await rejectsWith(management.clientGrants.get(extra.id), 404);
  });
});

describe('users', () => {
  it('create', () => {
    assert.match(user.user_id, /^auth0\|/);
    assert.equal(user.email, `v7-${run}@example.com`);
    assert.equal(user.password, undefined);
  });

  it('get, whole and projected', async () => {
    assert.equal((await management.users.get(user.user_id)).email, user.email);
    const projected = await management.users.get(user.user_id, { fields: 'user_id,email', include_fields: true });
    assert.deepEqual(projected, { user_id: user.user_id, email: user.email });
  });

  it('list with the defaults (page=0, per_page=50, include_totals=true) and iterated', async () => {
    const page = await management.users.list();
    assert.deepEqual(queryOf(page), { page: '0', per_page: '50', include_totals: 'true' });
    assert.equal(page.response.total, page.data.length);
    assert.ok(page.data.some((u) => u.user_id === user.user_id));
    assert.ok((await collect(management.users.list())).some((u) => u.user_id === user.user_id));
    const oneByOne = (await collect(management.users.list({ per_page: 1 }))).map((u) => u.user_id);
    assert.deepEqual(oneByOne, page.data.map((u) => u.user_id));
  });

  it('list searched by email (q, search_engine v3) and sorted', async () => {
    const found = await management.users.list({ q: `email:"${user.email}"`, search_engine: 'v3' });
    assert.deepEqual(found.data.map((u) => u.user_id), [user.user_id]);
    const sorted = (await management.users.list({ sort: 'email:1' })).data.map((u) => u.email);
    assert.deepEqual(sorted, [...sorted].sort());
  });

  it('listUsersByEmail', async () => {
    const found = await management.users.listUsersByEmail({ email: user.email });
    assert.deepEqual(found.map((u) => u.user_id), [user.user_id]);
    assert.deepEqual(await management.users.listUsersByEmail({ email: `nobody-${run}@example.com` }), []);
  });

  it('update', async () => {
    const updated = await management.users.update(user.user_id, { name: 'V7 User', user_metadata: { tier: 'gold' } });
    assert.equal(updated.name, 'V7 User');
    assert.deepEqual(updated.user_metadata, { tier: 'gold' });
  });

  it('permissions: create, list (paged), delete', async () => {
    const permission = { resource_server_identifier: apiIdentifier, permission_name: 'write:things' };
    await management.users.permissions.create(user.user_id, { permissions: [permission] });
    const page = await management.users.permissions.list(user.user_id);
    assert.deepEqual(queryOf(page), { per_page: '50', page: '0', include_totals: 'true' });
    assert.deepEqual(page.data.map((p) => p.permission_name), ['write:things']);
    await management.users.permissions.delete(user.user_id, { permissions: [permission] });
    assert.deepEqual((await management.users.permissions.list(user.user_id)).data, []);
  });

  it('roles: assign, list (paged), delete', async () => {
    await management.users.roles.assign(user.user_id, { roles: [role.id] });
    const page = await management.users.roles.list(user.user_id);
    assert.deepEqual(queryOf(page), { per_page: '50', page: '0', include_totals: 'true' });
    assert.deepEqual(page.data.map((r) => r.id), [role.id]);
    await management.users.roles.delete(user.user_id, { roles: [role.id] });
    assert.deepEqual((await management.users.roles.list(user.user_id)).data, []);
  });

  it('delete', async () => {
    const extra = await management.users.create({
      connection: 'Username-Password-Authentication', email: `v7-extra-${run}@example.com`, password: `Pw-${run}-long-enough!`,
    });
    cleanups.push(() => management.users.delete(extra.user_id));
    await management.users.delete(extra.user_id);
    await rejectsWith(management.users.get(extra.user_id), 404);
  });
});

describe('roles', () => {
  it('create, get', async () => {
    assert.match(role.id, /^rol_/);
    assert.deepEqual(await management.roles.get(role.id), role);
  });

  it('list with the defaults (per_page=50, page=0, include_totals=true) and iterated', async () => {
    const page = await management.roles.list();
    assert.deepEqual(queryOf(page), { per_page: '50', page: '0', include_totals: 'true' });
    assert.ok(page.data.some((r) => r.id === role.id));
    assert.ok((await collect(management.roles.list({ per_page: 1 }))).some((r) => r.id === role.id));
  });

  it('list filtered by name_filter', async () => {
    const page = await management.roles.list({ name_filter: `v7-role-${run}` });
    assert.deepEqual(page.data.map((r) => r.id), [role.id]);
  });

  it('update', async () => {
    const updated = await management.roles.update(role.id, { description: 'renamed' });
    assert.equal(updated.description, 'renamed');
    assert.equal(updated.name, role.name);
  });

  it('permissions: add, list (paged), delete', async () => {
    const permission = { resource_server_identifier: apiIdentifier, permission_name: 'read:things' };
    await management.roles.permissions.add(role.id, { permissions: [permission] });
    const page = await management.roles.permissions.list(role.id);
    assert.deepEqual(queryOf(page), { per_page: '50', page: '0', include_totals: 'true' });
    assert.deepEqual(page.data.map((p) => p.permission_name), ['read:things']);
    await management.roles.permissions.delete(role.id, { permissions: [permission] });
    assert.deepEqual((await management.roles.permissions.list(role.id)).data, []);
  });

  it('users: assign, list with the defaults (include_totals=true, take=50: checkpoint pagination)', async () => {
    await management.roles.users.assign(role.id, { users: [user.user_id] });
    const page = await management.roles.users.list(role.id);
    assert.deepEqual(queryOf(page), { include_totals: 'true', take: '50' });
    assert.deepEqual(page.data.map((u) => u.user_id), [user.user_id]);
    assert.deepEqual((await collect(management.roles.users.list(role.id, { take: 1 }))).map((u) => u.user_id), [user.user_id]);
  });

  it('delete', async () => {
    const extra = await management.roles.create({ name: `v7-extra-${run}` });
    cleanups.push(() => management.roles.delete(extra.id));
    await management.roles.delete(extra.id);
    await rejectsWith(management.roles.get(extra.id), 404);
  });
});

describe('keys.signing', () => {
  // Each key is published with its self-signed certificate, as Auth0 does.
  function assertKey(key) {
    assert.equal(typeof key.kid, 'string');
    assert.equal(typeof key.cert, 'string', `the key ${key.kid} has no cert: ${JSON.stringify(key)}`);
    const cert = new X509Certificate(key.cert);
    // Auth0's shapes: the SHA-1 fingerprint in colon-separated hex, the
    // thumbprint the same hex without colons.
    assert.equal(key.fingerprint, cert.fingerprint, `fingerprint of ${key.kid}`);
    assert.equal(key.thumbprint, cert.fingerprint.replaceAll(':', ''), `thumbprint of ${key.kid}`);
  }

  it('list and get', async () => {
    const keys = await management.keys.signing.list();
    assert.ok(keys.length > 0);
    keys.forEach(assertKey);
    const current = keys.find((k) => k.current);
    assert.ok(current, 'one key is current');
    const got = await management.keys.signing.get(current.kid);
    assert.deepEqual(got, current);
  });

  it('rotate and revoke answer {cert, kid}', async () => {
    const previous = (await management.keys.signing.list()).find((k) => k.current);
    const rotated = await management.keys.signing.rotate();
    assert.equal(typeof rotated.kid, 'string');
    assert.notEqual(rotated.kid, previous.kid);
    assert.ok(new X509Certificate(rotated.cert));
    // The Management API token in use was signed with the key about to be
    // revoked: the rest of the run uses a client with a token of the new
    // key, which revokes the old one.
    const renewed = new ManagementClient({ domain, clientId, clientSecret });
    const revoked = await renewed.keys.signing.revoke(previous.kid);
    management = renewed;
    assert.equal(revoked.kid, previous.kid);
    assert.ok(new X509Certificate(revoked.cert));
    assert.equal((await management.keys.signing.get(previous.kid)).revoked, true);
  });
});

describe('tenants.settings and branding', () => {
  it('tenants.settings get and update', async () => {
    const before = await management.tenants.settings.get();
    try {
      const updated = await management.tenants.settings.update({ friendly_name: `Interop v7 ${run}` });
      assert.equal(updated.friendly_name, `Interop v7 ${run}`);
      assert.equal((await management.tenants.settings.get()).friendly_name, `Interop v7 ${run}`);
      assert.deepEqual(await management.tenants.settings.get({ fields: 'friendly_name', include_fields: true }), { friendly_name: `Interop v7 ${run}` });
    } finally {
      await management.tenants.settings.update({ friendly_name: before.friendly_name ?? null });
    }
  });

  it('branding get and update', async () => {
    const before = await management.branding.get();
    try {
      const updated = await management.branding.update({ colors: { primary: '#0059d6' } });
      assert.equal(updated.colors.primary, '#0059d6');
      assert.equal((await management.branding.get()).colors.primary, '#0059d6');
    } finally {
      await management.branding.update({ colors: { primary: before.colors?.primary ?? null } });
    }
  });
});

describe('errors and list bounds', () => {
  it('a missing client is a 404 with errorCode inexistent_client', async () => {
    const err = await rejectsWith(management.clients.get(`missing-${run}`), 404);
    assert.equal(err.body.errorCode, 'inexistent_client');
  });

  it('per_page over 100 is a 400', async () => {
    await rejectsWith(management.clients.list({ per_page: 101 }), 400);
  });

  it('a negative page is a 400', async () => {
    await rejectsWith(management.users.list({ page: -1 }), 400);
  });

  it('a from that does not exist is a 400', async () => {
    await rejectsWith(management.clientGrants.list({ from: `missing-${run}` }), 400);
  });
});

describe('AuthenticationClient (auth0/legacy) with an application created with defaults', () => {
  it('oauth.clientCredentialsGrant issues a token for the API', async () => {
    const auth = new AuthenticationClient({ domain, clientId: m2m.client_id, clientSecret: m2m.client_secret });
    const res = await auth.oauth.clientCredentialsGrant({ audience: apiIdentifier });
    assert.equal(res.status, 200);
    assert.equal(res.data.token_type, 'Bearer');
    const { payload } = decodeJWT(res.data.access_token);
    assert.equal(payload.iss, `https://${domain}/`);
    assert.equal(payload.sub, `${m2m.client_id}@clients`);
    assert.ok(payload.aud === apiIdentifier || payload.aud.includes(apiIdentifier));
  });
});

describe('@auth0/auth0-auth-js AuthClient, which the 7.x README points to for authentication', () => {
  it('getTokenByClientCredentials with an application created with defaults', async () => {
    const auth = new AuthClient({ domain, clientId: m2m.client_id, clientSecret: m2m.client_secret });
    const tokens = await auth.getTokenByClientCredentials({ audience: apiIdentifier });
    const { payload } = decodeJWT(tokens.accessToken);
    assert.equal(payload.iss, `https://${domain}/`);
    assert.equal(payload.sub, `${m2m.client_id}@clients`);
    assert.ok(tokens.expiresAt > Date.now() / 1000);
  });

  it('getTokenByClientCredentials with an application registered client_secret_basic', async () => {
    // AuthClient sends the secret in the body; Auth0 takes either secret
    // method from a client registered for one of them.
    const basic = await management.clients.create({
      name: `Interop v7 basic ${run}`, app_type: 'non_interactive', token_endpoint_auth_method: 'client_secret_basic',
    });
    cleanups.push(() => management.clients.delete(basic.client_id));
    await management.clientGrants.create({ client_id: basic.client_id, audience: apiIdentifier, scope: ['read:things'] });
    const auth = new AuthClient({ domain, clientId: basic.client_id, clientSecret: basic.client_secret });
    const tokens = await auth.getTokenByClientCredentials({ audience: apiIdentifier });
    assert.equal(decodeJWT(tokens.accessToken).payload.sub, `${basic.client_id}@clients`);
  });
});
