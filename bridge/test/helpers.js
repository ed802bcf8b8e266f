// Test doubles: a scripted Baileys-like socket, a fake crmd, a bridge on port 0.
import http from 'node:http';
import { EventEmitter } from 'node:events';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createBridge } from '../src/bridge.js';
import { createServer } from '../src/server.js';

export const SECRET = 'test-secret-0123456789';

// A Boom-like error as Baileys emits it (statusCode at output.statusCode).
export function boom(statusCode, message) {
  const err = new Error(message);
  err.isBoom = true;
  err.isServer = statusCode >= 500;
  err.data = null;
  err.output = { statusCode, payload: { statusCode, error: 'x', message }, headers: {} };
  return err;
}

// Like Baileys: ev.on/emit, end() reports close once, logout() ends with 401.
export class FakeSocket {
  constructor({ tenant, session, auth }) {
    this.tenant = tenant;
    this.session = session;
    this.auth = auth;
    this.ev = new EventEmitter();
    this.user = undefined;
    this.sent = [];
    this.endCalls = [];
    this.logoutCalls = 0;
    this.closed = false;
    this.nextId = 1;
  }
  emit(event, data) {
    this.ev.emit(event, data);
  }
  async sendMessage(jid, content) {
    const id = `3EB0FAKE${String(this.nextId++).padStart(4, '0')}`;
    this.sent.push({ jid, content, id });
    return { key: { remoteJid: jid, fromMe: true, id }, message: { conversation: content.text } };
  }
  async logout() {
    this.logoutCalls += 1;
    await this.end(boom(401, 'Intentional Logout'));
  }
  async end(error) {
    this.endCalls.push(error);
    if (this.closed) return;
    this.closed = true;
    this.ev.emit('connection.update', { connection: 'close', lastDisconnect: { error, date: new Date('2024-06-10T09:15:02.117Z') } });
    this.ev.removeAllListeners();
  }
}

export function fakeCrmd() {
  const received = [];
  const state = { failNext: 0, failStatus: 503, attempts: 0 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      state.attempts += 1;
      const m = /^\/webhook\/whatsapp\/([^/]+)\/events$/.exec(req.url);
      if (req.headers['x-internal-secret'] !== SECRET) {
        res.writeHead(401).end('{"ok":false,"error":"unauthorized"}');
        return;
      }
      if (!m || req.method !== 'POST') {
        res.writeHead(404).end('{}');
        return;
      }
      if (state.failNext > 0) {
        state.failNext -= 1;
        res.writeHead(state.failStatus, { 'content-type': 'application/json' }).end('{"ok":false}');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      received.push({ tenant: m[1], body, at: process.hrtime.bigint() });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}`;
      resolve({ server, url, received, state, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

export async function setup({ now = () => 1718010902117, crmdUrl, retry = { attempts: 4, baseMs: 5 }, me = null, dataDir } = {}) {
  const crmd = crmdUrl ? null : await fakeCrmd();
  dataDir = dataDir || (await mkdtemp(path.join(os.tmpdir(), 'crmd-bridge-')));
  const sockets = [];
  const saves = [];
  const authLoads = [];
  const bridge = createBridge({
    crmdUrl: crmdUrl || crmd.url,
    secret: SECRET,
    dataDir,
    now,
    retry,
    logger: { warn() {}, error() {} },
    async authState(tenant, dir) {
      authLoads.push({ tenant, dir });
      await mkdir(dir, { recursive: true });
      const creds = { me, noiseKey: 'secret-noise' };
      return {
        state: { creds, keys: {} },
        async saveCreds() {
          saves.push({ tenant, at: process.hrtime.bigint(), me: creds.me });
          await writeFile(path.join(dir, 'creds.json'), JSON.stringify(creds));
        },
      };
    },
    makeSocket(args) {
      const s = new FakeSocket(args);
      sockets.push(s);
      return s;
    },
  });
  const server = createServer(bridge, { secret: SECRET, logger: { error() {} } });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;

  async function call(method, p, body, { secret = SECRET, raw } = {}) {
    const headers = { 'content-type': 'application/json' };
    if (secret !== null) headers['x-internal-secret'] = secret;
    const res = await fetch(base + p, {
      method,
      headers,
      body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  }

  async function close() {
    await new Promise((r) => server.close(r));
    if (crmd) await crmd.close();
  }

  return { bridge, server, base, crmd, sockets, saves, authLoads, dataDir, call, close };
}

export async function waitFor(pred, { timeoutMs = 2000, what = 'condition' } = {}) {
  const t0 = Date.now();
  for (;;) {
    if (await pred()) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const tick = () => new Promise((r) => setImmediate(r));
