// The bridge core: one Baileys socket per tenant session, events forwarded to crmd.
// Contract: ../../docs/bridge-protocol.md. Nothing here imports Baileys; the
// socket factory and the auth state loader are injected (index.js wires the
// real ones, the tests wire fakes).
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';

export const TENANT_RE = /^[a-z0-9_-]{1,64}$/;
// A tenant may run several sessions (numbers); "main" is the default.
export const SESSION_RE = /^[a-z0-9_-]{1,32}$/;
export const FORWARDED_EVENTS = ['connection.update', 'messages.upsert', 'messages.update'];

export class BridgeError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// A Boom-like error, as Baileys' own (statusCode at output.statusCode).
export function boomLike(statusCode, message) {
  const err = new Error(message);
  err.isBoom = true;
  err.output = { statusCode, payload: { statusCode, message }, headers: {} };
  return err;
}

function isoDate(d, now) {
  if (d instanceof Date && !Number.isNaN(d.getTime())) return d.toISOString();
  if (typeof d === 'string' && d) return d;
  if (typeof d === 'number') return new Date(d).toISOString();
  return new Date(now()).toISOString();
}

// Baileys' {error: Boom, date: Date} -> {"statusCode","message","date"}.
export function flattenDisconnect(ld, now = Date.now) {
  const err = ld && ld.error;
  let statusCode = null;
  if (err) {
    const c = err.output?.statusCode ?? err.statusCode ?? err.data?.statusCode;
    if (Number.isInteger(c)) statusCode = c;
  }
  let message = null;
  if (err) message = err.message || err.output?.payload?.message || null;
  return { statusCode, message, date: isoDate(ld && ld.date, now) };
}

// JSON without Baileys' binary/Long noise: Long -> number, bytes -> base64.
function jsonReplacer(key, value) {
  const orig = this[key];
  if (orig && typeof orig === 'object') {
    if (typeof orig.toNumber === 'function' && 'low' in orig && 'high' in orig) return orig.toNumber();
    if (orig instanceof Uint8Array) return Buffer.from(orig.buffer, orig.byteOffset, orig.byteLength).toString('base64');
  }
  if (typeof value === 'bigint') return Number(value);
  return value;
}
export function toWire(obj) {
  return JSON.stringify(obj, jsonReplacer);
}

function pickMe(me) {
  if (!me || typeof me !== 'object' || !me.id) return null;
  return { id: String(me.id), name: me.name != null ? String(me.name) : null };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * createBridge({
 *   makeSocket({tenant, auth}) -> socket with ev.on, sendMessage, logout, end, user
 *   authState(tenant, dir)     -> Promise<{state:{creds,keys}, saveCreds}>
 *   crmdUrl, secret, dataDir,
 *   fetch = globalThis.fetch, now = Date.now, logger = console,
 *   retry = {attempts: 5, baseMs: 500, timeoutMs: 10000}  (backoff baseMs * 2^i)
 * })
 */
export function createBridge(opts) {
  const {
    makeSocket,
    authState,
    crmdUrl,
    secret,
    dataDir = './data',
    fetch = globalThis.fetch,
    now = Date.now,
    logger = console,
    retry = {},
  } = opts;
  if (typeof makeSocket !== 'function') throw new TypeError('makeSocket is required');
  if (typeof authState !== 'function') throw new TypeError('authState is required');
  if (!crmdUrl) throw new TypeError('crmdUrl is required');
  const attempts = retry.attempts ?? 5;
  const baseMs = retry.baseMs ?? 500;
  const timeoutMs = retry.timeoutMs ?? 10000; // per attempt: a hung crmd must not stall the queue
  const base = String(crmdUrl).replace(/\/+$/, '');

  // Sessions by "<tenant>/<session>".
  const tenants = new Map();
  const keyOf = (tenant, session) => `${tenant}/${session}`;

  // "main" keeps the original place; another session has its own folder.
  function authDir(tenant, session = 'main') {
    if (!TENANT_RE.test(tenant)) throw new BridgeError(400, 'invalid_field', 'invalid tenant id');
    if (!SESSION_RE.test(session)) throw new BridgeError(400, 'invalid_field', 'invalid session name');
    if (session === 'main') return path.join(dataDir, 'whatsapp', tenant, 'auth');
    return path.join(dataDir, 'whatsapp', tenant, 'sessions', session, 'auth');
  }

  function record(tenant, session) {
    let r = tenants.get(keyOf(tenant, session));
    if (!r) {
      r = {
        tenant,
        session,
        state: 'close',
        qr: null,
        me: undefined, // undefined: not known yet (read from creds.json on demand)
        lastDisconnect: null,
        sock: null,
        gen: 0,
        qrCount: 0,
        maxQrCodes: 6,
        closed: true,
        lastSeq: 0,
        credsTail: Promise.resolve(),
        sendTail: Promise.resolve(),
      };
      tenants.set(keyOf(tenant, session), r);
    }
    return r;
  }

  function nextSeq(r) {
    r.lastSeq = Math.max(r.lastSeq + 1, Math.floor(now()) * 1000);
    return r.lastSeq;
  }

  async function deliver(tenant, body) {
    const url = `${base}/webhook/whatsapp/${tenant}/events`;
    for (let i = 0; i < attempts; i++) {
      let retryable = true;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-internal-secret': secret },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        try { await res.text(); } catch { /* body drained best effort */ }
        if (res.status < 400) return true;
        retryable = res.status >= 500;
        logger.warn?.(`[bridge] ${tenant}: crmd answered ${res.status} to a webhook`);
      } catch (err) {
        logger.warn?.(`[bridge] ${tenant}: webhook delivery failed: ${err.message}`);
      }
      if (!retryable || i === attempts - 1) break;
      await sleep(baseMs * 2 ** i);
    }
    logger.error?.(`[bridge] ${tenant}: webhook dropped`);
    return false;
  }

  // In order per session; every delivery waits for the creds saves queued
  // before it. "main" is not named (the protocol's original body).
  function forward(r, event, data) {
    const seq = nextSeq(r);
    const body = toWire(r.session === 'main' ? { seq, event, data } : { seq, session: r.session, event, data });
    const credsBefore = r.credsTail;
    r.sendTail = r.sendTail
      .then(() => credsBefore)
      .then(() => deliver(r.tenant, body))
      .catch((err) => logger.error?.(`[bridge] ${r.tenant}: ${err.message}`));
    return seq;
  }

  function onClose(r, gen, lastDisconnect) {
    if (gen !== r.gen || r.closed) return;
    r.closed = true;
    r.state = 'close';
    r.qr = null;
    r.sock = null;
    r.lastDisconnect = flattenDisconnect(lastDisconnect, now);
    // Never reconnect here: crmd decides (docs/bridge-protocol.md).
  }

  function wire(r, gen, sock, saveCreds, creds) {
    sock.ev.on('creds.update', () => {
      if (gen !== r.gen) return;
      // Baileys mutates creds in place before emitting; save the whole thing.
      r.credsTail = r.credsTail
        .then(() => saveCreds())
        .catch((err) => logger.error?.(`[bridge] ${r.tenant}: saving creds failed: ${err.message}`));
      if (creds && creds.me) r.me = pickMe(creds.me);
    });

    sock.ev.on('connection.update', (update) => {
      if (gen !== r.gen) return;
      const data = { ...update };
      if (data.qr) {
        r.qrCount += 1;
        if (r.qrCount > r.maxQrCodes) {
          // As Baileys does when the server's refs run out.
          endSocket(r, gen, sock, boomLike(408, 'QR refs attempts ended'));
          return;
        }
        r.state = 'qr';
        r.qr = data.qr;
      }
      if (data.connection === 'connecting') {
        r.state = 'connecting';
        r.qr = null;
      } else if (data.connection === 'open') {
        r.state = 'open';
        r.qr = null;
        r.qrCount = 0;
        const me = pickMe(sock.user) || pickMe(creds && creds.me);
        if (me) r.me = me;
        data.me = me;
      } else if (data.connection === 'close') {
        if (r.closed) return; // already reported
        onClose(r, gen, update.lastDisconnect);
        data.lastDisconnect = r.lastDisconnect;
      }
      if (data.isNewLogin && creds && creds.me) r.me = pickMe(creds.me);
      if ('qr' in data && data.qr === undefined) delete data.qr;
      forward(r, 'connection.update', data);
    });

    sock.ev.on('messages.upsert', (data) => {
      if (gen !== r.gen) return;
      forward(r, 'messages.upsert', data);
    });

    sock.ev.on('messages.update', (data) => {
      if (gen !== r.gen) return;
      forward(r, 'messages.update', data);
    });
  }

  // End a socket; if it does not report its own close (Baileys does), report it.
  async function endSocket(r, gen, sock, error) {
    try {
      await sock.end(error);
    } catch (err) {
      logger.warn?.(`[bridge] ${r.tenant}: end failed: ${err.message}`);
    }
    if (gen === r.gen && !r.closed) {
      const data = { connection: 'close', lastDisconnect: null };
      onClose(r, gen, { error, date: new Date(now()) });
      data.lastDisconnect = r.lastDisconnect;
      forward(r, 'connection.update', data);
    }
  }

  // A start leaves a socket that is connecting, showing QR codes or open
  // alone (single flight); `restart` replaces it, without reporting the old
  // one's close (crmd asked for this: it is not a disconnect to act on).
  async function start(tenant, { maxQrCodes, session = 'main', restart = false } = {}) {
    const dir = authDir(tenant, session);
    if (maxQrCodes !== undefined && (!Number.isInteger(maxQrCodes) || maxQrCodes < 1 || maxQrCodes > 100)) {
      throw new BridgeError(400, 'invalid_field', 'maxQrCodes must be an integer from 1 to 100');
    }
    const r = record(tenant, session);
    if (!r.closed && !restart) return { state: r.state };
    if (!r.closed) {
      const old = r.sock;
      r.gen += 1; // the old socket's events, its close included, are dropped from here on
      r.closed = true;
      r.sock = null;
      r.state = 'close';
      r.qr = null;
      if (old) {
        try { await old.end(undefined); } catch (err) { logger.warn?.(`[bridge] ${tenant}: end failed: ${err.message}`); }
      }
      if (!r.closed) return { state: r.state }; // another start won the race meanwhile
    }
    const gen = ++r.gen;
    r.closed = false;
    r.state = 'connecting';
    r.qr = null;
    r.qrCount = 0;
    r.maxQrCodes = maxQrCodes ?? 6;
    try {
      await r.credsTail; // a previous socket's last saves land first
      const { state, saveCreds } = await authState(tenant, dir, session);
      if (gen !== r.gen) return { state: r.state }; // logged out meanwhile
      r.me = pickMe(state.creds && state.creds.me);
      // Wire in the same tick: Baileys emits its first update on process.nextTick.
      let sock = makeSocket({ tenant, session, auth: state });
      if (sock && typeof sock.then === 'function') sock = await sock;
      if (gen !== r.gen) {
        try { await sock.end(undefined); } catch { /* ignore */ }
        return { state: r.state };
      }
      r.sock = sock;
      wire(r, gen, sock, saveCreds, state.creds);
    } catch (err) {
      if (gen === r.gen) {
        r.closed = true;
        r.state = 'close';
        r.sock = null;
      }
      throw err;
    }
    return { state: r.state };
  }

  async function logout(tenant, { session = 'main' } = {}) {
    const dir = authDir(tenant, session);
    const r = record(tenant, session);
    const sock = r.sock;
    const gen = r.gen;
    if (sock && !r.closed) {
      const err401 = boomLike(401, 'Intentional Logout');
      if (r.state === 'open') {
        try {
          await sock.logout();
        } catch (err) {
          logger.warn?.(`[bridge] ${tenant}: logout failed: ${err.message}`);
        }
      }
      await endSocket(r, gen, sock, err401);
    }
    r.gen += 1; // drop anything late from the old socket
    r.closed = true;
    r.state = 'close';
    r.qr = null;
    r.sock = null;
    await r.credsTail;
    await rm(dir, { recursive: true, force: true });
    r.me = null;
    return {};
  }

  async function status(tenant, { session = 'main' } = {}) {
    const dir = authDir(tenant, session);
    const r = tenants.get(keyOf(tenant, session));
    let me = r ? r.me : undefined;
    if (me === undefined) {
      // Saved credentials from an earlier run of the bridge.
      try {
        const creds = JSON.parse(await readFile(path.join(dir, 'creds.json'), 'utf8'));
        me = pickMe(creds.me);
      } catch {
        me = null;
      }
      if (r) r.me = me;
    }
    return {
      state: r ? r.state : 'close',
      qr: r && r.state === 'qr' ? r.qr : null,
      me: me ?? null,
      lastDisconnect: r ? r.lastDisconnect : null,
    };
  }

  async function send(tenant, to, text, { session = 'main' } = {}) {
    authDir(tenant, session);
    const r = tenants.get(keyOf(tenant, session));
    const state = r ? r.state : 'close';
    if (!r || state !== 'open' || !r.sock) {
      throw new BridgeError(409, 'not_connected', `session is ${state}`);
    }
    const msg = await r.sock.sendMessage(to, { text });
    const id = msg && msg.key && msg.key.id;
    if (!id) throw new BridgeError(500, 'internal', 'no message id from WhatsApp');
    return { id };
  }

  // For shutdown: end every socket (reported as close 428) and wait for deliveries.
  async function shutdown({ timeoutMs = 3000 } = {}) {
    const pending = [];
    for (const r of tenants.values()) {
      if (r.sock && !r.closed) pending.push(endSocket(r, r.gen, r.sock, boomLike(428, 'bridge shutting down')));
    }
    await Promise.all(pending);
    const drained = Promise.all([...tenants.values()].map((r) => Promise.all([r.sendTail, r.credsTail])));
    await Promise.race([drained, sleep(timeoutMs)]);
  }

  // For tests and shutdown: wait until everything queued so far is delivered.
  async function idle() {
    await Promise.all([...tenants.values()].map((r) => Promise.all([r.sendTail, r.credsTail])));
  }

  return { start, logout, status, send, shutdown, idle, authDir, _tenants: tenants };
}
