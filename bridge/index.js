// Wires the bridge to real Baileys. Configuration: README.md.
import { mkdir } from 'node:fs/promises';
import {
  makeWASocket,
  useMultiFileAuthState,
  makeCacheableSignalKeyStore,
  Browsers,
} from '@whiskeysockets/baileys';
import { createBridge } from './src/bridge.js';
import { createServer } from './src/server.js';

const env = process.env;
const PORT = Number(env.PORT || 3300);
const BIND = env.BIND || '127.0.0.1';
const SECRET = env.INTERNAL_SECRET || '';
const CRMD_URL = env.CRMD_URL || 'http://127.0.0.1:8080';
const DATA_DIR = env.DATA_DIR || './data';
const LOG_LEVEL = env.LOG_LEVEL || 'warn';

if (!SECRET) {
  console.error('INTERNAL_SECRET is required (the same value as crmd\'s INTERNAL_SECRET)');
  process.exit(2);
}

// A quiet logger with the pino surface Baileys uses. Baileys logs at trace /
// debug may carry key material, so those levels are never printed.
const LEVELS = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10 };
function makeLogger(level, bindings = {}) {
  const min = LEVELS[level] ?? 40;
  const log = (lvl) => (obj, msg) => {
    if (LEVELS[lvl] < min || LEVELS[lvl] < 30) return;
    const text = typeof obj === 'string' ? obj : msg || '';
    const err = obj && obj.err ? ` ${obj.err.message || obj.err}` : '';
    console.error(`[baileys ${lvl}]${bindings.tenant ? ` ${bindings.tenant}:` : ''} ${text}${err}`);
  };
  const l = { level };
  for (const k of Object.keys(LEVELS)) l[k] = log(k);
  l.child = (b) => makeLogger(level, { ...bindings, ...b });
  return l;
}

const bridge = createBridge({
  crmdUrl: CRMD_URL,
  secret: SECRET,
  dataDir: DATA_DIR,
  async authState(tenant, dir) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return useMultiFileAuthState(dir);
  },
  makeSocket({ tenant, session, auth }) {
    const logger = makeLogger(LOG_LEVEL, { tenant: session === 'main' ? tenant : `${tenant}/${session}` });
    return makeWASocket({
      auth: { creds: auth.creds, keys: makeCacheableSignalKeyStore(auth.keys, logger) },
      logger,
      browser: Browsers.ubuntu('crmd'),
      markOnlineOnConnect: false,
      syncFullHistory: false,
    });
  },
});

const server = createServer(bridge, { secret: SECRET });
server.listen(PORT, BIND, () => {
  console.log(`crmd WhatsApp bridge on http://${BIND}:${PORT} -> ${CRMD_URL} (data ${DATA_DIR})`);
});

let stopping = false;
async function stop(sig) {
  if (stopping) return;
  stopping = true;
  console.log(`${sig}: closing sessions`);
  server.close();
  await bridge.shutdown({ timeoutMs: 3000 });
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
