// A real OAuth2 / OpenID Connect provider for the fastusers OAuth tests: oauth2-mock-server
// (pinned in package.json) on 127.0.0.1, started by tests/support/oauth.rs.
//
//   node tests/oauth/server.mjs --port PORT [--exit-on-stdin-close]
//
// Prints `READY` on stdout once listening; exits on SIGTERM/SIGINT (and, with
// --exit-on-stdin-close, when its stdin closes, i.e. when the test process is gone).
//
// Issuer: http://127.0.0.1:PORT (discovery at /.well-known/openid-configuration; endpoints
// /authorize, /token, /userinfo, /jwks). One RS256 signing key, generated at start.
//
// The test chooses the identity by appending to the authorization URL:
//   mock_sub=SUBJECT                  the `sub` (default: the mock's `johndoe`)
//   mock_email=EMAIL                  an `email` claim (absent: no email claim at all)
//   mock_email_verified=true|false    `email_verified` (default true when an email is given)
//   mock_error=CODE                   redirect back with error=CODE&state=STATE and no code
//   mock_id_token=MODE                spoil the id_token: bad_signature, wrong_aud, wrong_iss,
//                                     expired, unsigned (alg none), unknown_kid (a `kid` the
//                                     JWKS does not have), no_nonce or wrong_nonce
//   mock_iss=URL, mock_tid=TENANT     the id_token's `iss` and `tid` claims (multi-tenant
//                                     issuers)
// The identity is remembered per authorization code; the token endpoint puts it in the
// id_token (`aud` = the client_id of the token request, `iss` = the issuer) and in the access
// token's `sub`, and the userinfo endpoint returns it for that access token.
//
// On top of the mock's own checks (it verifies code_verifier against the code_challenge when
// a code_verifier is sent), the token endpoint answers 400 {"error":"invalid_grant"} for a code
// it never issued, a code already exchanged, a code issued with a code_challenge but exchanged
// without code_verifier, and a redirect_uri or client_id different from the authorization
// request's. Userinfo answers 401 {"error":"invalid_token"} to an unknown access token.
//
// The nonce of the authorization request goes into the id_token (the mock's own behaviour).
//
// GET /test/token-requests lists every token-endpoint request, oldest first (see `record`).
// GET /test/jwks-requests answers {"count": N}, the number of GETs of /jwks so far.
// POST /test/rotate-keys rotates the signing key as a provider does: a new RS256 key signs from
// now on and is the only one /jwks publishes (the old one is removed); answers {"kid": NEW}.

import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { OAuth2Server } from 'oauth2-mock-server';

function usage(message) {
    process.stderr.write(`server.mjs: ${message}\nusage: node server.mjs --port PORT [--exit-on-stdin-close]\n`);
    process.exit(2);
}

let port;
let exitOnStdinClose = false;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') {
        port = Number(args[++i]);
    } else if (args[i] === '--exit-on-stdin-close') {
        exitOnStdinClose = true;
    } else {
        usage(`unknown argument ${args[i]}`);
    }
}
if (!Number.isInteger(port) || port <= 0 || port > 65535) usage('--port PORT is required');

const ISSUER = `http://127.0.0.1:${port}`;

const oauth = new OAuth2Server();
// The mock names a loopback issuer `http://localhost:PORT` unless its URL is set beforehand.
oauth.issuer.url = ISSUER;
const store = oauth.issuer.keys;
let signingKid = (await store.generate('RS256')).kid;
// The mock's key store can neither remove a key nor pin the one that signs (with several keys
// it signs in turn with each): these two overrides of this store instance do both, for
// POST /test/rotate-keys.
const retiredKids = new Set();
const storeGet = store.get.bind(store);
const storeToJSON = store.toJSON.bind(store);
store.get = (kid) => storeGet(kid ?? signingKid);
store.toJSON = (includePrivateFields) =>
    storeToJSON(includePrivateFields).filter((key) => !retiredKids.has(key.kid));
let jwksRequests = 0;
const service = oauth.service;

/** Authorization code -> what the authorization request said and chose. */
const codes = new Map();
/** Access or refresh token -> claims ({sub, email?, email_verified?}). */
const tokens = new Map();
/** Every token-endpoint request, oldest first. */
const tokenRequests = [];

function s256(verifier) {
    return createHash('sha256').update(verifier).digest('base64url');
}

function basicAuth(req) {
    const header = req.headers.authorization ?? '';
    const match = /^basic\s+(\S+)$/i.exec(header);
    if (!match) return undefined;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    return { name: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

/** The client_id of a token request, as the mock reads it (Basic auth first, then the form). */
function clientIdOf(req) {
    return basicAuth(req)?.name ?? req.body?.client_id;
}

/** The claims a test asked for in the authorization request's query. */
function claimsOf(query) {
    const claims = { sub: typeof query.mock_sub === 'string' ? query.mock_sub : 'johndoe' };
    if (typeof query.mock_email === 'string') {
        claims.email = query.mock_email;
        claims.email_verified = query.mock_email_verified !== 'false';
    }
    return claims;
}

service.on('beforeAuthorizeRedirect', (redirect, req) => {
    const url = redirect.url;
    const code = url.searchParams.get('code');
    if (code === null) return; // unsupported response_type: the mock already set the error
    const q = req.query;
    if (typeof q.mock_error === 'string') {
        const state = url.searchParams.get('state');
        url.searchParams.delete('code');
        url.searchParams.delete('state');
        url.searchParams.set('error', q.mock_error);
        if (state !== null) url.searchParams.set('state', state);
        return;
    }
    codes.set(code, {
        claims: claimsOf(q),
        clientId: q.client_id,
        redirectUri: q.redirect_uri,
        scope: q.scope,
        codeChallenge: q.code_challenge,
        codeChallengeMethod: q.code_challenge ? (q.code_challenge_method ?? 'plain') : undefined,
        idTokenMode: typeof q.mock_id_token === 'string' ? q.mock_id_token : undefined,
        iss: typeof q.mock_iss === 'string' ? q.mock_iss : undefined,
        tid: typeof q.mock_tid === 'string' ? q.mock_tid : undefined,
        used: false,
    });
});

/** The scope of the authorization request a code-exchange is about, or undefined. */
function scopeForTokenRequest(body) {
    if (body.grant_type === 'authorization_code' && body.scope === undefined) return codes.get(body.code)?.scope;
    return undefined;
}

/** The identity a token request is about, or undefined. */
function claimsForTokenRequest(body) {
    if (body.grant_type === 'authorization_code') return codes.get(body.code)?.claims;
    if (body.grant_type === 'refresh_token') return tokens.get(body.refresh_token);
    return undefined;
}

// The mock signs the access token, then (except for client_credentials) the id_token.
const signedPerRequest = new WeakMap();
service.on('beforeTokenSigning', (token, req) => {
    const n = signedPerRequest.get(req) ?? 0;
    signedPerRequest.set(req, n + 1);
    const claims = claimsForTokenRequest(req.body);
    if (claims === undefined) return;
    token.payload.sub = claims.sub;
    if (n === 0) {
        // The access token: the scope granted is the one requested at authorization.
        const scope = scopeForTokenRequest(req.body);
        if (scope !== undefined) token.payload.scope = scope;
    } else {
        Object.assign(token.payload, claims); // the id_token
        const issued = req.body.grant_type === 'authorization_code' ? codes.get(req.body.code) : undefined;
        const mode = issued?.idTokenMode;
        const now = Math.floor(Date.now() / 1000);
        if (issued?.iss !== undefined) token.payload.iss = issued.iss;
        if (issued?.tid !== undefined) token.payload.tid = issued.tid;
        if (mode === 'wrong_aud') token.payload.aud = 'some-other-client';
        if (mode === 'wrong_iss') token.payload.iss = 'http://evil.example';
        if (mode === 'expired') Object.assign(token.payload, { iat: now - 7200, nbf: now - 7200, exp: now - 3600 });
        if (mode === 'unknown_kid') token.header.kid = 'a-kid-the-jwks-does-not-have';
        if (mode === 'no_nonce') delete token.payload.nonce;
        if (mode === 'wrong_nonce') token.payload.nonce = 'not-the-nonce-of-this-flow';
    }
});

/** Spoils a signed id_token after signing, as a test asked. */
function spoilIdToken(idToken, mode) {
    const [header, payload, signature] = idToken.split('.');
    if (mode === 'bad_signature') {
        const flipped = signature[0] === 'A' ? 'B' : 'A';
        return `${header}.${payload}.${flipped}${signature.slice(1)}`;
    }
    if (mode === 'unsigned') {
        const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
        return `${none}.${payload}.`;
    }
    return idToken;
}

function rejectGrant(response, description) {
    response.statusCode = 400;
    response.body = { error: 'invalid_grant', error_description: description };
}

service.on('beforeResponse', (response, req) => {
    const body = req.body;
    let claims;
    if (body.grant_type === 'authorization_code') {
        const issued = codes.get(body.code);
        if (issued === undefined) return rejectGrant(response, 'unknown authorization code');
        if (issued.used) return rejectGrant(response, 'authorization code already used');
        if (issued.codeChallenge !== undefined && body.code_verifier === undefined) {
            return rejectGrant(response, 'code_verifier required: the authorization request had a code_challenge');
        }
        if (issued.redirectUri !== body.redirect_uri) {
            return rejectGrant(response, 'redirect_uri differs from the authorization request');
        }
        if (issued.clientId !== clientIdOf(req)) {
            return rejectGrant(response, 'client_id differs from the authorization request');
        }
        issued.used = true;
        claims = issued.claims;
        if (issued.idTokenMode !== undefined && response.statusCode === 200 && response.body.id_token) {
            response.body.id_token = spoilIdToken(response.body.id_token, issued.idTokenMode);
        }
    } else if (body.grant_type === 'refresh_token') {
        claims = tokens.get(body.refresh_token);
        if (claims === undefined) return rejectGrant(response, 'unknown refresh token');
    } else {
        return;
    }
    if (response.statusCode === 200 && response.body !== '') {
        const scope = scopeForTokenRequest(body);
        if (scope !== undefined) response.body.scope = scope;
        tokens.set(response.body.access_token, claims);
        tokens.set(response.body.refresh_token, claims);
    }
});

service.on('beforeUserinfo', (response, req) => {
    const match = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const claims = match ? tokens.get(match[1]) : undefined;
    if (claims === undefined) {
        response.statusCode = 401;
        response.body = { error: 'invalid_token' };
        return;
    }
    response.body = { ...claims };
});

/**
 * Records a token-endpoint request as its response is sent:
 * {grant_type, code, client_id, client_auth ("client_secret_basic", "client_secret_post" or
 *  "none"), client_secret, redirect_uri, code_verifier_present, code_verifier_valid (null when
 *  the code had no code_challenge or is unknown), code_challenge_method, status, error}.
 */
function record(req, status, responseBody) {
    const body = req.body && typeof req.body === 'object' ? req.body : {};
    const basic = basicAuth(req);
    const issued = typeof body.code === 'string' ? codes.get(body.code) : undefined;
    const verifier = typeof body.code_verifier === 'string' ? body.code_verifier : undefined;
    let valid = null;
    if (issued?.codeChallenge !== undefined && verifier !== undefined) {
        const expected = issued.codeChallengeMethod === 'S256' ? s256(verifier) : verifier;
        valid = expected === issued.codeChallenge;
    }
    let error = null;
    try {
        error = JSON.parse(responseBody).error ?? null;
    } catch {
        // not JSON
    }
    tokenRequests.push({
        grant_type: body.grant_type ?? null,
        code: body.code ?? null,
        client_id: basic?.name ?? body.client_id ?? null,
        client_auth: basic ? 'client_secret_basic' : body.client_secret !== undefined ? 'client_secret_post' : 'none',
        client_secret: basic?.pass ?? body.client_secret ?? null,
        redirect_uri: body.redirect_uri ?? null,
        code_verifier_present: verifier !== undefined,
        code_verifier_valid: valid,
        code_challenge_method: issued?.codeChallengeMethod ?? null,
        status,
        error,
    });
}

const handler = service.requestHandler;
const http = createServer((req, res) => {
    const path = new URL(req.url, ISSUER).pathname;
    if (req.method === 'GET' && path === '/test/token-requests') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(tokenRequests));
        return;
    }
    if (req.method === 'GET' && path === '/test/jwks-requests') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ count: jwksRequests }));
        return;
    }
    if (req.method === 'POST' && path === '/test/rotate-keys') {
        store.generate('RS256').then(
            (key) => {
                retiredKids.add(signingKid);
                signingKid = key.kid;
                res.writeHead(200, { 'content-type': 'application/json' });
                res.end(JSON.stringify({ kid: key.kid }));
            },
            (e) => {
                res.writeHead(500, { 'content-type': 'text/plain' });
                res.end(String(e));
            },
        );
        return;
    }
    if (req.method === 'GET' && path === '/jwks') jwksRequests += 1;
    if (req.method === 'POST' && path === '/token') {
        // Record synchronously before the response leaves, so a test that reads
        // /test/token-requests right after the token response always sees it.
        const chunks = [];
        const write = res.write.bind(res);
        const end = res.end.bind(res);
        res.write = (chunk, ...rest) => {
            if (chunk) chunks.push(Buffer.from(chunk));
            return write(chunk, ...rest);
        };
        res.end = (chunk, ...rest) => {
            if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk));
            record(req, res.statusCode, Buffer.concat(chunks).toString('utf8'));
            return end(chunk, ...rest);
        };
    }
    handler(req, res);
});

function stop() {
    http.close();
    http.closeAllConnections();
    process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (exitOnStdinClose) {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
}

http.on('error', (e) => {
    process.stderr.write(`server.mjs: ${e.message}\n`);
    process.exit(1);
});
http.listen(port, '127.0.0.1', () => {
    process.stdout.write('READY\n');
});
