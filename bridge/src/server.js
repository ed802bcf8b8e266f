// HTTP face of the bridge (node:http only): crmd -> bridge calls of
// docs/bridge-protocol.md.
import http from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { BridgeError, SESSION_RE, TENANT_RE } from './bridge.js';

const MAX_BODY = 1 << 20;
const JID_RE = /^[^@\s]+@(s\.whatsapp\.net|g\.us|lid)$/;

// Constant time, and no length leak: compare SHA-256 digests.
export function secretMatches(given, expected) {
  if (typeof given !== 'string' || !expected) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
function fail(res, status, error, message) {
  send(res, status, { ok: false, error, message });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new BridgeError(413, 'too_large', 'body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function jsonBody(req) {
  const raw = await readBody(req);
  if (raw.trim() === '') return {};
  let v;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new BridgeError(400, 'invalid_json', 'body is not JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BridgeError(400, 'invalid_json', 'body must be a JSON object');
  return v;
}

const ROUTES = { start: 'POST', logout: 'POST', status: 'GET', messages: 'POST' };

export function createServer(bridge, { secret, logger = console } = {}) {
  if (!secret) throw new TypeError('secret is required');
  return http.createServer(async (req, res) => {
    try {
      if (!secretMatches(req.headers['x-internal-secret'], secret)) {
        req.resume();
        return fail(res, 401, 'unauthorized', 'missing or wrong X-Internal-Secret');
      }
      const pathname = (req.url || '/').split('?')[0];
      // /sessions/{tenant}/{action} is the session "main";
      // /sessions/{tenant}/{session}/{action} any other.
      const m = /^\/sessions\/([^/]*)(?:\/([^/]*))?\/([a-z]+)\/?$/.exec(pathname);
      if (!m || !(m[3] in ROUTES)) {
        req.resume();
        return fail(res, 404, 'not_found', 'no such route');
      }
      // The raw segment, not decoded: %2e%2e and friends never match.
      const tenant = m[1];
      const session = m[2] ?? 'main';
      const action = m[3];
      if (!TENANT_RE.test(tenant)) {
        req.resume();
        return fail(res, 400, 'invalid_field', 'tenant must match [a-z0-9_-]{1,64}');
      }
      if (!SESSION_RE.test(session)) {
        req.resume();
        return fail(res, 400, 'invalid_field', 'session must match [a-z0-9_-]{1,32}');
      }
      if (req.method !== ROUTES[action]) {
        req.resume();
        res.setHeader('allow', ROUTES[action]);
        return fail(res, 405, 'method_not_allowed', `use ${ROUTES[action]}`);
      }
      switch (action) {
        case 'start': {
          const body = await jsonBody(req);
          if (body.restart !== undefined && typeof body.restart !== 'boolean') {
            return fail(res, 400, 'invalid_field', 'restart must be true or false');
          }
          const r = await bridge.start(tenant, { maxQrCodes: body.maxQrCodes, session, restart: body.restart === true });
          return send(res, 200, { ok: true, state: r.state });
        }
        case 'logout': {
          await jsonBody(req);
          await bridge.logout(tenant, { session });
          return send(res, 200, { ok: true });
        }
        case 'status': {
          req.resume();
          return send(res, 200, await bridge.status(tenant, { session }));
        }
        case 'messages': {
          const body = await jsonBody(req);
          if (typeof body.to !== 'string' || !JID_RE.test(body.to)) {
            return fail(res, 400, 'invalid_field', 'to must be a JID (<digits>@s.whatsapp.net, @g.us or @lid)');
          }
          if (typeof body.text !== 'string' || body.text.length === 0) {
            return fail(res, 400, 'invalid_field', 'text must be a non-empty string');
          }
          const r = await bridge.send(tenant, body.to, body.text, { session });
          return send(res, 200, { ok: true, id: r.id });
        }
      }
    } catch (err) {
      if (err instanceof BridgeError) return fail(res, err.status, err.code, err.message);
      logger.error?.(`[bridge] ${req.method} ${req.url}: ${err && err.stack ? err.stack : err}`);
      if (!res.headersSent) fail(res, 500, 'internal', 'internal error');
    }
  });
}
