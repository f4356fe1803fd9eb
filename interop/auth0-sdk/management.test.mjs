// Auth0's official Node SDK against a running Portcullis.
//
// The SDK is configured exactly as for an Auth0 tenant, with only the
// domain pointing at Portcullis:
//
//   PORTCULLIS_DOMAIN         host:port of Portcullis, e.g. localhost:8443
//   PORTCULLIS_CLIENT_ID      a client with every Management API scope
//   PORTCULLIS_CLIENT_SECRET  its secret
//   PORTCULLIS_TEST_CERT_PEM  a self-signed certificate (PEM) to register as
//                             an mTLS credential
//
// TLS is verified as usual; for a local CA pass its root in
// NODE_EXTRA_CA_CERTS. interop/interop_test.go runs this file against a
// fresh server: go test ./interop/...
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, randomUUID } from 'node:crypto';

import { AuthApiError, AuthenticationClient, ManagementApiError, ManagementClient } from 'auth0';
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
const apiIdentifier = `https://interop-${run}.example.com/api`;

// Resources this run created and has not deleted yet; `after` removes them
// if a test fails halfway.
const created = { resourceServerId: null, clientId: null, grantId: null };

after(async () => {
  const attempts = [];
  if (created.grantId) attempts.push(management.clientGrants.delete({ id: created.grantId }));
  if (created.clientId) attempts.push(management.clients.delete({ client_id: created.clientId }));
  if (created.resourceServerId) attempts.push(management.resourceServers.delete({ id: created.resourceServerId }));
  await Promise.allSettled(attempts);
});

// rejectsWith awaits promise, which must fail with a ManagementApiError of
// the given status, and returns that error.
async function rejectsWith(promise, statusCode) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected a ManagementApiError ${statusCode}, but the call succeeded`);
  assert.ok(err instanceof ManagementApiError, `expected a ManagementApiError, got ${err?.name}: ${err?.message}`);
  assert.equal(err.statusCode, statusCode, `statusCode (body: ${err.body})`);
  assert.equal(typeof err.errorCode, 'string', `errorCode (body: ${err.body})`);
  assert.ok(err.errorCode.length > 0, `errorCode is empty (body: ${err.body})`);
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0, `message is empty (body: ${err.body})`);
  assert.equal(typeof err.error, 'string', `error (body: ${err.body})`);
  return err;
}

function decodeJWT(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, 'an access token is a JWS in compact form');
  const [header, payload] = parts.slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));
  return { header, payload };
}

describe('Auth0 Node SDK against Portcullis', () => {
  const initialScopes = [
    { value: 'read:things', description: 'Read things' },
    { value: 'write:things', description: 'Write things' },
  ];
  const updatedScopes = [
    { value: 'read:things', description: 'Read things' },
    { value: 'admin:things', description: 'Administer things' },
  ];
  let resourceServer;
  let client;
  let rotatedSecret;
  let grant;

  it('resourceServers.create', async () => {
    const res = await management.resourceServers.create({
      name: `Interop API ${run}`,
      identifier: apiIdentifier,
      scopes: initialScopes,
      token_lifetime: 3600,
      token_dialect: 'access_token',
      subject_type_authorization: {
        user: { policy: 'allow_all' },
        client: { policy: 'require_client_grant' },
      },
    });
    assert.equal(res.status, 201);
    resourceServer = res.data;
    created.resourceServerId = resourceServer.id;
    assert.equal(typeof resourceServer.id, 'string');
    assert.ok(resourceServer.id.length > 0);
    assert.equal(resourceServer.name, `Interop API ${run}`);
    assert.equal(resourceServer.identifier, apiIdentifier);
    assert.deepEqual(resourceServer.scopes, initialScopes);
    assert.equal(resourceServer.token_lifetime, 3600);
    assert.equal(resourceServer.token_dialect, 'access_token');
    assert.equal(resourceServer.signing_alg, 'RS256');
    assert.equal(resourceServer.is_system, false);
    assert.deepEqual(resourceServer.subject_type_authorization, {
      user: { policy: 'allow_all' },
      client: { policy: 'require_client_grant' },
    });
  });

  it('resourceServers.get, by id and by identifier', async () => {
    const byId = await management.resourceServers.get({ id: resourceServer.id });
    assert.equal(byId.status, 200);
    assert.deepEqual(byId.data, resourceServer);

    // Auth0 also accepts the identifier in place of the id; the SDK
    // percent-encodes it into the path.
    const byIdentifier = await management.resourceServers.get({ id: apiIdentifier });
    assert.equal(byIdentifier.status, 200);
    assert.equal(byIdentifier.data.id, resourceServer.id);
  });

  it('resourceServers.getAll, plain and with totals', async () => {
    const res = await management.resourceServers.getAll();
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.data), 'a plain list is an array');
    assert.ok(res.data.some((rs) => rs.id === resourceServer.id), 'the new API is listed');
    const system = res.data.find((rs) => rs.is_system);
    assert.ok(system, 'the Management API is listed');
    assert.equal(system.identifier, `https://${domain}/api/v2/`);

    const paged = await management.resourceServers.getAll({ include_totals: true, per_page: 100 });
    assert.equal(paged.status, 200);
    assert.ok(Array.isArray(paged.data.resource_servers));
    assert.equal(paged.data.total, res.data.length);
    assert.equal(paged.data.start, 0);
    assert.equal(paged.data.limit, 100);
    assert.equal(paged.data.length, paged.data.resource_servers.length);
  });

  it('resourceServers.update replaces the scope list and changes lifetime, dialect and policies', async () => {
    const res = await management.resourceServers.update(
      { id: resourceServer.id },
      {
        scopes: updatedScopes,
        token_lifetime: 7200,
        token_dialect: 'rfc9068_profile',
        subject_type_authorization: { user: { policy: 'require_client_grant' } },
      },
    );
    assert.equal(res.status, 200);
    assert.equal(res.data.id, resourceServer.id);
    assert.deepEqual(res.data.scopes, updatedScopes, 'the scope list is replaced, not merged');
    assert.equal(res.data.token_lifetime, 7200);
    assert.equal(res.data.token_dialect, 'rfc9068_profile');
    assert.deepEqual(res.data.subject_type_authorization, {
      user: { policy: 'require_client_grant' },
      client: { policy: 'require_client_grant' },
    });
    assert.equal(res.data.name, resourceServer.name, 'properties not sent are kept');

    const reread = await management.resourceServers.get({ id: resourceServer.id });
    assert.deepEqual(reread.data, res.data);
    resourceServer = res.data;
  });

  it('clients.create returns the client_secret', async () => {
    // As the dashboard makes a machine-to-machine application: every
    // property but these the Management API's default.
    const res = await management.clients.create({
      name: `Interop M2M ${run}`,
      description: 'Created by the Auth0 SDK interop test',
      app_type: 'non_interactive',
    });
    assert.equal(res.status, 201);
    client = res.data;
    created.clientId = client.client_id;
    assert.equal(typeof client.client_id, 'string');
    assert.ok(client.client_id.length > 0);
    assert.equal(typeof client.client_secret, 'string');
    assert.ok(client.client_secret.length >= 32, 'a generated secret is long');
    assert.equal(client.name, `Interop M2M ${run}`);
    assert.equal(client.app_type, 'non_interactive');
    assert.deepEqual(client.grant_types, ['client_credentials']);
    assert.equal(client.token_endpoint_auth_method, 'client_secret_post');
  });

  it('clients.get does not return the client_secret', async () => {
    const res = await management.clients.get({ client_id: client.client_id });
    assert.equal(res.status, 200);
    assert.equal(res.data.client_id, client.client_id);
    assert.equal(res.data.name, client.name);
    assert.equal(res.data.description, client.description);
    assert.ok(!('client_secret' in res.data), 'client_secret must not be returned');

    const projected = await management.clients.get({ client_id: client.client_id, fields: 'client_id,name', include_fields: true });
    assert.deepEqual(projected.data, { client_id: client.client_id, name: client.name });
  });

  it('clients.getAll lists the client without secrets', async () => {
    const res = await management.clients.getAll();
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.data));
    const mine = res.data.find((c) => c.client_id === client.client_id);
    assert.ok(mine, 'the new client is listed');
    assert.equal(mine.name, client.name);
    assert.ok(res.data.some((c) => c.client_id === clientId), 'the admin client is listed');
    for (const c of res.data) {
      assert.ok(!('client_secret' in c), `client ${c.client_id} is listed with its secret`);
    }

    const paged = await management.clients.getAll({ include_totals: true });
    assert.ok(Array.isArray(paged.data.clients));
    assert.equal(paged.data.total, res.data.length);
  });

  it('clients.update', async () => {
    const res = await management.clients.update(
      { client_id: client.client_id },
      { name: `Interop M2M ${run} (renamed)`, client_metadata: { run } },
    );
    assert.equal(res.status, 200);
    assert.equal(res.data.client_id, client.client_id);
    assert.equal(res.data.name, `Interop M2M ${run} (renamed)`);
    assert.deepEqual(res.data.client_metadata, { run });
    assert.equal(res.data.description, client.description, 'properties not sent are kept');
    assert.ok(!('client_secret' in res.data), 'an update does not return the secret');
  });

  it('clients.rotateClientSecret returns a new secret', async () => {
    const res = await management.clients.rotateClientSecret({ client_id: client.client_id });
    assert.equal(res.status, 200);
    assert.equal(res.data.client_id, client.client_id);
    assert.equal(typeof res.data.client_secret, 'string');
    assert.ok(res.data.client_secret.length >= 32);
    assert.notEqual(res.data.client_secret, client.client_secret);
    rotatedSecret = res.data.client_secret;
  });

  it('client credentials: create an x509_cert, enable it for mTLS, revert, delete', async () => {
    const cert = new X509Certificate(certPEM);
    const created = await management.clients.createCredential(
      { client_id: client.client_id },
      { name: 'interop cert', credential_type: 'x509_cert', pem: certPEM.replaceAll('\n', '\r\n') },
    );
    assert.equal(created.status, 201);
    const cred = created.data;
    assert.match(cred.id, /^cred_/);
    assert.equal(cred.name, 'interop cert');
    assert.equal(cred.credential_type, 'x509_cert');
    assert.equal(cred.thumbprint_sha256, createHash('sha256').update(cert.raw).digest('base64url'));
    assert.equal(cred.subject_dn, 'C=XX\nO=Interop\nCN=interop-mtls-client');
    assert.equal(new Date(cred.expires_at).getTime(), new Date(cert.validTo).getTime());

    const list = await management.clients.getCredentials({ client_id: client.client_id });
    assert.deepEqual(list.data, [cred]);
    const one = await management.clients.getCredential({ client_id: client.client_id, credential_id: cred.id });
    assert.deepEqual(one.data, cred);
    const updated = await management.clients.updateCredential(
      { client_id: client.client_id, credential_id: cred.id },
      { expires_at: '2031-01-01T00:00:00.000Z' },
    );
    assert.equal(new Date(updated.data.expires_at).toISOString(), '2031-01-01T00:00:00.000Z');

    const converted = await management.clients.update(
      { client_id: client.client_id },
      {
        token_endpoint_auth_method: null,
        client_authentication_methods: { self_signed_tls_client_auth: { credentials: [{ id: cred.id }] } },
      },
    );
    assert.equal(converted.data.token_endpoint_auth_method, null);
    assert.deepEqual(converted.data.client_authentication_methods, {
      self_signed_tls_client_auth: { credentials: [{ id: cred.id }] },
    });
    assert.ok(!('credentials' in converted.data), 'a client is returned without its credentials');

    const inUse = await rejectsWith(management.clients.deleteCredential({ client_id: client.client_id, credential_id: cred.id }), 400);
    assert.match(inUse.message, /unassociated/);

    const reverted = await management.clients.update(
      { client_id: client.client_id },
      { token_endpoint_auth_method: 'client_secret_post', client_authentication_methods: null },
    );
    assert.equal(reverted.data.token_endpoint_auth_method, 'client_secret_post');
    assert.equal(reverted.data.client_authentication_methods, null);

    const deleted = await management.clients.deleteCredential({ client_id: client.client_id, credential_id: cred.id });
    assert.equal(deleted.status, 204);
    const gone = await rejectsWith(management.clients.getCredential({ client_id: client.client_id, credential_id: cred.id }), 404);
    assert.equal(gone.errorCode, 'inexistent_credential');
  });

  it('clientGrants.create', async () => {
    const res = await management.clientGrants.create({
      client_id: client.client_id,
      audience: apiIdentifier,
      scope: ['read:things'],
    });
    assert.equal(res.status, 201);
    grant = res.data;
    created.grantId = grant.id;
    assert.equal(typeof grant.id, 'string');
    assert.ok(grant.id.length > 0);
    assert.equal(grant.client_id, client.client_id);
    assert.equal(grant.audience, apiIdentifier);
    assert.deepEqual(grant.scope, ['read:things']);
    assert.equal(grant.subject_type, 'client');
  });

  it('clientGrants.getAll filters by client_id and audience', async () => {
    const byClient = await management.clientGrants.getAll({ client_id: client.client_id });
    assert.equal(byClient.status, 200);
    assert.deepEqual(byClient.data.map((g) => g.id), [grant.id]);
    assert.deepEqual(byClient.data[0], grant);

    const byAudience = await management.clientGrants.getAll({ audience: apiIdentifier });
    assert.deepEqual(byAudience.data.map((g) => g.id), [grant.id]);

    const both = await management.clientGrants.getAll({ client_id: client.client_id, audience: apiIdentifier });
    assert.deepEqual(both.data.map((g) => g.id), [grant.id]);

    const otherAudience = await management.clientGrants.getAll({ client_id: client.client_id, audience: `https://${domain}/api/v2/` });
    assert.deepEqual(otherAudience.data, []);

    // The admin client's grants are not this client's.
    const admin = await management.clientGrants.getAll({ client_id: clientId });
    assert.ok(admin.data.length > 0);
    assert.ok(admin.data.every((g) => g.client_id === clientId));
  });

  it('clientGrants.update', async () => {
    const res = await management.clientGrants.update({ id: grant.id }, { scope: ['read:things', 'admin:things'] });
    assert.equal(res.status, 200);
    assert.equal(res.data.id, grant.id);
    assert.deepEqual(res.data.scope, ['read:things', 'admin:things']);
    assert.equal(res.data.audience, apiIdentifier);
    grant = res.data;
  });

  it('AuthenticationClient.oauth.clientCredentialsGrant issues a token for the API', async () => {
    const auth = new AuthenticationClient({ domain, clientId: client.client_id, clientSecret: rotatedSecret });
    const res = await auth.oauth.clientCredentialsGrant({ audience: apiIdentifier });
    assert.equal(res.status, 200);
    assert.equal(res.data.token_type, 'Bearer');
    assert.equal(res.data.expires_in, 7200, 'expires_in is the API token_lifetime');
    assert.equal(typeof res.data.access_token, 'string');
    assert.equal(res.data.scope, 'read:things admin:things');

    const { header, payload } = decodeJWT(res.data.access_token);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.typ, 'at+jwt', 'rfc9068_profile tokens are typed at+jwt');
    assert.equal(payload.iss, `https://${domain}/`);
    assert.equal(payload.sub, `${client.client_id}@clients`);
    assert.equal(payload.client_id, client.client_id);
    assert.ok(payload.aud === apiIdentifier || (Array.isArray(payload.aud) && payload.aud.includes(apiIdentifier)));
    assert.equal(payload.exp - payload.iat, 7200);
  });

  it('AuthenticationClient refuses the secret that was rotated out', async () => {
    const auth = new AuthenticationClient({ domain, clientId: client.client_id, clientSecret: client.client_secret });
    await assert.rejects(auth.oauth.clientCredentialsGrant({ audience: apiIdentifier }), (err) => {
      assert.ok(err instanceof AuthApiError, `expected an AuthApiError, got ${err?.name}: ${err?.message}`);
      assert.equal(err.statusCode, 401);
      assert.equal(typeof err.error, 'string');
      assert.ok(err.error.length > 0, `error is empty (body: ${err.body})`);
      return true;
    });
  });

  it('a missing client is a 404 ManagementApiError', async () => {
    const err = await rejectsWith(management.clients.get({ client_id: `missing-${run}` }), 404);
    // Auth0 answers a missing client with errorCode "inexistent_client",
    // and code written for Auth0 tests err.errorCode for it.
    assert.equal(err.errorCode, 'inexistent_client');
  });

  it('a duplicate resource server identifier is a 409 ManagementApiError', async () => {
    await rejectsWith(management.resourceServers.create({ name: 'Duplicate', identifier: apiIdentifier }), 409);
  });

  it('a reserved scope name is a 400 ManagementApiError', async () => {
    const err = await rejectsWith(
      management.resourceServers.create({
        name: 'Reserved scope',
        identifier: `https://interop-${run}.example.com/reserved`,
        scopes: [{ value: 'openid', description: 'not allowed' }],
      }),
      400,
    );
    assert.equal(err.errorCode, 'invalid_body');
    assert.match(err.message, /openid/);
  });

  it('users and roles: create, assign a role with a permission, read it back, delete', async () => {
    const api = (await management.resourceServers.get({ id: resourceServer.id })).data;
    const permission = { resource_server_identifier: api.identifier, permission_name: api.scopes[0].value };
    const email = `sdk-${run}@example.com`;
    const user = (await management.users.create({
      connection: 'Username-Password-Authentication', email, password: `Pw-${run}-long-enough!`,
    })).data;
    assert.match(user.user_id, /^auth0\|/);
    assert.equal(user.email, email);
    assert.equal(user.password, undefined);
    const fetched = (await management.users.get({ id: user.user_id })).data;
    assert.equal(fetched.email, email);
    const updated = (await management.users.update({ id: user.user_id }, { name: 'SDK User', user_metadata: { tier: 'gold' } })).data;
    assert.equal(updated.name, 'SDK User');
    assert.deepEqual(updated.user_metadata, { tier: 'gold' });
    await rejectsWith(management.users.create({
      connection: 'Username-Password-Authentication', email: email.toUpperCase(), password: `Pw-${run}-long-enough!`,
    }), 409);

    const role = (await management.roles.create({ name: `sdk-role-${run}`, description: 'from the SDK' })).data;
    assert.match(role.id, /^rol_/);
    await management.roles.addPermissions({ id: role.id }, { permissions: [permission] });
    const rolePermissions = (await management.roles.getPermissions({ id: role.id })).data;
    assert.deepEqual(rolePermissions.map((p) => p.permission_name), [permission.permission_name]);
    await management.users.assignRoles({ id: user.user_id }, { roles: [role.id] });
    const roles = (await management.users.getRoles({ id: user.user_id })).data;
    assert.deepEqual(roles.map((r) => r.id), [role.id]);
    const members = (await management.roles.getUsers({ id: role.id })).data;
    assert.deepEqual(members.map((u) => u.user_id), [user.user_id]);

    assert.equal((await management.roles.delete({ id: role.id })).status, 204);
    assert.equal((await management.users.delete({ id: user.user_id })).status, 204);
    await rejectsWith(management.users.get({ id: user.user_id }), 404);
  });

  it('tenants and branding: updateSettings, getSettings', async () => {
    // What this test changes is put back afterwards.
    const settingsBefore = (await management.tenants.getSettings()).data;
    const brandingBefore = (await management.branding.getSettings()).data;
    try {
      const friendlyName = `Interop ${run}`;
      const updated = await management.tenants.updateSettings({ friendly_name: friendlyName, session_lifetime: 96 });
      assert.equal(updated.status, 200);
      assert.equal(updated.data.friendly_name, friendlyName);
      assert.equal(updated.data.session_lifetime, 96);
      const settings = (await management.tenants.getSettings()).data;
      assert.equal(settings.friendly_name, friendlyName);
      assert.equal(settings.session_lifetime, 96);
      assert.equal(settings.idle_session_lifetime, settingsBefore.idle_session_lifetime);
      const only = (await management.tenants.getSettings({ fields: 'friendly_name', include_fields: true })).data;
      assert.deepEqual(only, { friendly_name: friendlyName });
      const refused = await rejectsWith(management.tenants.updateSettings({ session_lifetime: 721 }), 400);
      assert.equal(refused.errorCode, 'invalid_body');
      assert.match(refused.message, /session_lifetime/);

      const logoURL = `https://cdn.example.com/${run}/logo.svg`;
      const branded = await management.branding.updateSettings({ colors: { primary: '#0059d6' }, logo_url: logoURL });
      assert.equal(branded.status, 200);
      assert.equal(branded.data.colors.primary, '#0059d6');
      assert.equal(branded.data.logo_url, logoURL);
      const branding = (await management.branding.getSettings()).data;
      assert.equal(branding.colors.primary, '#0059d6');
      assert.equal(branding.logo_url, logoURL);
      // The colours go into the login pages' CSS: anything but a hex colour
      // is refused.
      const injected = await rejectsWith(management.branding.updateSettings({ colors: { primary: 'red;}body{display:none' } }), 400);
      assert.equal(injected.errorCode, 'invalid_body');
      assert.match(injected.message, /colors\.primary/);
    } finally {
      await management.tenants.updateSettings({
        friendly_name: settingsBefore.friendly_name ?? null, session_lifetime: settingsBefore.session_lifetime,
      });
      await management.branding.updateSettings({
        logo_url: brandingBefore.logo_url ?? null, colors: { primary: brandingBefore.colors?.primary ?? null },
      });
    }
    assert.deepEqual((await management.tenants.getSettings()).data, settingsBefore);
    assert.deepEqual((await management.branding.getSettings()).data, brandingBefore);
  });

  it('clientGrants.delete', async () => {
    const res = await management.clientGrants.delete({ id: grant.id });
    assert.equal(res.status, 204);
    created.grantId = null;
    const left = await management.clientGrants.getAll({ client_id: client.client_id });
    assert.deepEqual(left.data, []);
  });

  it('clients.delete', async () => {
    const res = await management.clients.delete({ client_id: client.client_id });
    assert.equal(res.status, 204);
    created.clientId = null;
    await rejectsWith(management.clients.get({ client_id: client.client_id }), 404);
  });

  it('resourceServers.delete', async () => {
    const res = await management.resourceServers.delete({ id: resourceServer.id });
    assert.equal(res.status, 204);
    created.resourceServerId = null;
    const err = await rejectsWith(management.resourceServers.get({ id: resourceServer.id }), 404);
    assert.equal(err.errorCode, 'inexistent_resource_server');
  });
});

// Every list of the 4.x ManagementClient with its default parameters and
// each pagination mode it offers: page/per_page/include_totals, and the
// checkpoint from/take where Auth0 offers it; the filters and the
// look-ups by email; the signing keys. Objects are created with the
// Management API's defaults.
describe('Auth0 Node SDK 4.x: lists, filters, keys', () => {
  const identifier = `https://interop-${run}.example.com/lists`;
  let api;
  let app;
  let grant;
  let user;
  let role;

  before(async () => {
    api = (await management.resourceServers.create({ identifier, scopes: [{ value: 'read:lists' }] })).data;
    app = (await management.clients.create({ name: `Interop lists ${run}`, app_type: 'non_interactive' })).data;
    grant = (await management.clientGrants.create({ client_id: app.client_id, audience: identifier, scope: ['read:lists'] })).data;
    user = (await management.users.create({
      connection: 'Username-Password-Authentication', email: `lists-${run}@example.com`, password: `Pw-${run}-long-enough!`,
    })).data;
    role = (await management.roles.create({ name: `lists-role-${run}` })).data;
  });

  after(async () => {
    await Promise.allSettled([
      grant && management.clientGrants.delete({ id: grant.id }),
      role && management.roles.delete({ id: role.id }),
      user && management.users.delete({ id: user.user_id }),
    ]);
    await Promise.allSettled([
      app && management.clients.delete({ client_id: app.client_id }),
      api && management.resourceServers.delete({ id: api.id }),
    ]);
  });

  // pages reads a page-paginated list one item at a time and returns every
  // item, checking each page's start, limit and total.
  async function pages(list, key) {
    const items = [];
    for (let page = 0; ; page++) {
      const res = await list({ page, per_page: 1, include_totals: true });
      assert.equal(res.data.start, page, `start of page ${page}`);
      assert.equal(res.data.limit, 1);
      assert.equal(res.data.length, res.data[key].length);
      items.push(...res.data[key]);
      if (items.length >= res.data.total || res.data[key].length === 0) {
        assert.equal(items.length, res.data.total);
        return items;
      }
    }
  }

  // checkpoints reads a checkpoint-paginated list one item at a time and
  // returns every item.
  async function checkpoints(list, key) {
    const items = [];
    let from;
    for (;;) {
      const res = await list({ take: 1, ...(from && { from }) });
      assert.ok(!Array.isArray(res.data), 'a checkpoint list is an object');
      items.push(...res.data[key]);
      if (!res.data.next) {
        return items;
      }
      assert.equal(res.data[key].length, 1);
      from = res.data.next;
    }
  }

  it('clients.getAll: plain, page by page, checkpoint by checkpoint', async () => {
    const plain = (await management.clients.getAll()).data;
    const ids = plain.map((c) => c.client_id);
    assert.ok(ids.includes(app.client_id));
    assert.deepEqual((await pages((q) => management.clients.getAll(q), 'clients')).map((c) => c.client_id), ids);
    assert.deepEqual((await checkpoints((q) => management.clients.getAll(q), 'clients')).map((c) => c.client_id), ids);
  });

  it('clients.getAll filtered by app_type, is_first_party, is_global', async () => {
    const m2m = (await management.clients.getAll({ app_type: 'non_interactive' })).data;
    assert.ok(m2m.some((c) => c.client_id === app.client_id));
    assert.ok(m2m.every((c) => c.app_type === 'non_interactive'));
    assert.ok((await management.clients.getAll({ is_first_party: true })).data.some((c) => c.client_id === app.client_id));
    assert.deepEqual((await management.clients.getAll({ is_global: true })).data, []);
  });

  it('resourceServers.getAll page by page', async () => {
    const ids = (await management.resourceServers.getAll()).data.map((rs) => rs.id);
    assert.deepEqual((await pages((q) => management.resourceServers.getAll(q), 'resource_servers')).map((rs) => rs.id), ids);
  });

  it('clientGrants.getAll: page by page, checkpoint by checkpoint', async () => {
    const ids = (await management.clientGrants.getAll()).data.map((g) => g.id);
    assert.ok(ids.includes(grant.id));
    assert.deepEqual((await pages((q) => management.clientGrants.getAll(q), 'client_grants')).map((g) => g.id), ids);
    assert.deepEqual((await checkpoints((q) => management.clientGrants.getAll(q), 'client_grants')).map((g) => g.id), ids);
  });

  it('users.getAll: page by page, searched, sorted; users.get projected', async () => {
    const ids = (await management.users.getAll()).data.map((u) => u.user_id);
    assert.ok(ids.includes(user.user_id));
    assert.deepEqual((await pages((q) => management.users.getAll(q), 'users')).map((u) => u.user_id), ids);
    const found = (await management.users.getAll({ q: `email:"${user.email}"`, search_engine: 'v3' })).data;
    assert.deepEqual(found.map((u) => u.user_id), [user.user_id]);
    const emails = (await management.users.getAll({ sort: 'email:-1' })).data.map((u) => u.email);
    assert.deepEqual(emails, [...emails].sort().reverse());
    const projected = (await management.users.get({ id: user.user_id, fields: 'user_id,email', include_fields: true })).data;
    assert.deepEqual(projected, { user_id: user.user_id, email: user.email });
  });

  it('usersByEmail.getByEmail', async () => {
    const found = (await management.usersByEmail.getByEmail({ email: user.email })).data;
    assert.deepEqual(found.map((u) => u.user_id), [user.user_id]);
  });

  it('roles.getAll page by page and by name_filter; roles.getUsers checkpoint by checkpoint', async () => {
    const ids = (await management.roles.getAll()).data.map((r) => r.id);
    assert.ok(ids.includes(role.id));
    assert.deepEqual((await pages((q) => management.roles.getAll(q), 'roles')).map((r) => r.id), ids);
    assert.deepEqual((await management.roles.getAll({ name_filter: `lists-role-${run}` })).data.map((r) => r.id), [role.id]);

    await management.roles.assignUsers({ id: role.id }, { users: [user.user_id] });
    assert.deepEqual((await management.roles.getUsers({ id: role.id })).data.map((u) => u.user_id), [user.user_id]);
    const members = await checkpoints((q) => management.roles.getUsers({ id: role.id, ...q }), 'users');
    assert.deepEqual(members.map((u) => u.user_id), [user.user_id]);
  });

  it('keys: getAll, get, rotate, revoke with certificates', async () => {
    const keys = (await management.keys.getAll()).data;
    for (const key of keys) {
      const cert = new X509Certificate(key.cert ?? '');
      assert.equal(key.fingerprint, cert.fingerprint);
      assert.equal(key.thumbprint, cert.fingerprint.replaceAll(':', ''));
    }
    const current = keys.find((k) => k.current);
    assert.deepEqual((await management.keys.get({ kid: current.kid })).data, current);
    const rotated = (await management.keys.rotate()).data;
    assert.ok(new X509Certificate(rotated.cert));
    // The Management API token in use was signed with the key about to be
    // revoked: the rest of the run uses a client with a token of the new
    // key, which revokes the old one.
    const renewed = new ManagementClient({ domain, clientId, clientSecret });
    const revoked = (await renewed.keys.revoke({ kid: current.kid })).data;
    management = renewed;
    assert.equal(revoked.kid, current.kid);
    assert.ok(new X509Certificate(revoked.cert));
  });

  it('AuthenticationClient, which sends the secret in the body, with an application registered client_secret_basic', async () => {
    // An application registered for HTTP Basic, such as one made for
    // express-openid-connect: Auth0 takes either secret method.
    const basic = (await management.clients.create({
      name: `Interop basic ${run}`, app_type: 'non_interactive', token_endpoint_auth_method: 'client_secret_basic',
    })).data;
    try {
      await management.clientGrants.create({ client_id: basic.client_id, audience: identifier, scope: ['read:lists'] });
      const auth = new AuthenticationClient({ domain, clientId: basic.client_id, clientSecret: basic.client_secret });
      const res = await auth.oauth.clientCredentialsGrant({ audience: identifier });
      assert.equal(res.status, 200);
      assert.equal(decodeJWT(res.data.access_token).payload.sub, `${basic.client_id}@clients`);
    } finally {
      await management.clients.delete({ client_id: basic.client_id });
    }
  });
});
