import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, readFile } from 'node:fs/promises';
import path from 'node:path';
import http from 'node:http';
import { setup, boom, waitFor, SECRET } from './helpers.js';
import { flattenDisconnect, toWire } from '../src/bridge.js';
import { secretMatches } from '../src/server.js';

const T0 = 1718010902117;
const QR = (n) => `2@ref${n},bm9pc2U=,aWRlbnRpdHk=,YWR2`;
const events = (crmd, tenant = 'acme') => crmd.received.filter((r) => r.tenant === tenant).map((r) => r.body);

test('secret required on every route (missing or wrong -> 401 JSON)', async (t) => {
  const b = await setup();
  t.after(b.close);
  const routes = [
    ['POST', '/sessions/acme/start', {}],
    ['POST', '/sessions/acme/logout', {}],
    ['GET', '/sessions/acme/status'],
    ['POST', '/sessions/acme/messages', { to: '15557654321@s.whatsapp.net', text: 'hi' }],
    ['GET', '/nope'],
    ['POST', '/sessions/../start', {}],
  ];
  for (const [method, p, body] of routes) {
    for (const secret of [null, '', 'wrong', SECRET + 'x', SECRET.slice(0, -1)]) {
      const r = await b.call(method, p, body, { secret });
      assert.equal(r.status, 401, `${method} ${p} with ${JSON.stringify(secret)}`);
      assert.deepEqual(r.body, { ok: false, error: 'unauthorized', message: 'missing or wrong X-Internal-Secret' });
    }
  }
  assert.equal(b.sockets.length, 0);
  assert.equal(secretMatches(SECRET, SECRET), true);
  assert.equal(secretMatches(undefined, SECRET), false);
  assert.equal(secretMatches('x', ''), false);
});

test('bad tenant ids are refused with 400 and touch nothing on disk', async (t) => {
  const b = await setup();
  t.after(b.close);
  const bad = ['ACME', '...', '..%2f..%2fetc', 'a.b', 'a%20b', 'x'.repeat(65), 'acmé', ''];
  for (const tenant of bad) {
    for (const [method, action] of [['POST', 'start'], ['POST', 'logout'], ['GET', 'status'], ['POST', 'messages']]) {
      const r = await b.call(method, `/sessions/${tenant}/${action}`, method === 'POST' ? { to: '1@s.whatsapp.net', text: 'x' } : undefined);
      assert.equal(r.status, 400, `${tenant} ${action}`);
      assert.equal(r.body.error, 'invalid_field');
    }
  }
  // Raw dot segments (fetch would normalise them away) are refused too.
  for (const p of ['/sessions/../start', '/sessions/./status', '/sessions/%2e%2e/start', '/sessions/.%2E/status', '/sessions/..%2F..%2Fetc/status']) {
    const status = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: b.server.address().port, path: p, method: p.endsWith('start') ? 'POST' : 'GET', headers: { 'x-internal-secret': SECRET } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 400, p);
  }
  // The core refuses too (no path traversal into the auth dir).
  await assert.rejects(b.bridge.start('../etc'), { status: 400 });
  await assert.rejects(b.bridge.logout('a/../../b'), { status: 400 });
  assert.equal(b.sockets.length, 0);
  assert.equal(b.authLoads.length, 0);
  // The longest legal id is fine.
  const ok = await b.call('GET', `/sessions/${'a-_9'.repeat(16)}/status`);
  assert.equal(ok.status, 200);
  assert.equal(path.basename(path.dirname(b.bridge.authDir('acme'))), 'acme');
});

test('unknown tenant status is close with nulls; bad bodies are 400', async (t) => {
  const b = await setup();
  t.after(b.close);
  const s = await b.call('GET', '/sessions/nobody/status');
  assert.deepEqual(s.body, { state: 'close', qr: null, me: null, lastDisconnect: null });
  assert.equal((await b.call('POST', '/sessions/acme/start', undefined, { raw: '{nope' })).body.error, 'invalid_json');
  assert.equal((await b.call('POST', '/sessions/acme/start', undefined, { raw: '[1]' })).body.error, 'invalid_json');
  assert.equal((await b.call('POST', '/sessions/acme/start', { maxQrCodes: 'six' })).body.error, 'invalid_field');
  assert.equal((await b.call('POST', '/sessions/acme/start', { maxQrCodes: 0 })).status, 400);
  assert.equal((await b.call('GET', '/sessions/acme/start')).status, 405);
  assert.equal((await b.call('POST', '/sessions/acme/other', {})).status, 404);
  assert.equal(b.sockets.length, 0);
});

test('pairing: QR rotations with growing seq, creds saved before isNewLogin, close 515 written out, no reconnect, then open with me', async (t) => {
  const b = await setup();
  t.after(b.close);
  const r = await b.call('POST', '/sessions/acme/start', {});
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { ok: true, state: 'connecting' });
  assert.equal(b.sockets.length, 1);
  const s = b.sockets[0];
  assert.equal(b.authLoads[0].dir, path.join(b.dataDir, 'whatsapp', 'acme', 'auth'));

  s.emit('connection.update', { connection: 'connecting', receivedPendingNotifications: false, qr: undefined });
  for (let i = 1; i <= 3; i++) s.emit('connection.update', { qr: QR(i) });
  await b.bridge.idle();
  let st = (await b.call('GET', '/sessions/acme/status')).body;
  assert.deepEqual(st, { state: 'qr', qr: QR(3), me: null, lastDisconnect: null });

  // Scan: Baileys sets creds.me, emits creds.update, then isNewLogin.
  s.auth.creds.me = { id: '15551234567:12@s.whatsapp.net', name: 'Acme Sales' };
  s.emit('creds.update', { me: s.auth.creds.me });
  s.emit('connection.update', { isNewLogin: true, qr: undefined });
  s.emit('connection.update', { connection: 'close', lastDisconnect: { error: boom(515, 'Stream Errored (restart required)'), date: new Date('2024-06-10T09:15:02.117Z') } });
  await b.bridge.idle();

  const ev = events(b.crmd);
  assert.deepEqual(ev.map((e) => e.event), Array(6).fill('connection.update'));
  assert.deepEqual(ev[0].data, { connection: 'connecting', receivedPendingNotifications: false });
  assert.deepEqual(ev.slice(1, 4).map((e) => e.data), [{ qr: QR(1) }, { qr: QR(2) }, { qr: QR(3) }]);
  assert.deepEqual(ev[4].data, { isNewLogin: true });
  assert.deepEqual(ev[5].data, {
    connection: 'close',
    lastDisconnect: { statusCode: 515, message: 'Stream Errored (restart required)', date: '2024-06-10T09:15:02.117Z' },
  });
  // seq strictly increasing, from Date.now()*1000, below 2^53.
  assert.equal(ev[0].seq, T0 * 1000);
  for (let i = 1; i < ev.length; i++) assert.ok(ev[i].seq > ev[i - 1].seq, `seq ${i}`);
  assert.ok(ev.every((e) => Number.isSafeInteger(e.seq)));

  // creds.update persisted before the isNewLogin webhook reached crmd.
  assert.equal(b.saves.length, 1);
  const isNewLoginAt = b.crmd.received.find((x) => x.body.data.isNewLogin).at;
  assert.ok(b.saves[0].at < isNewLoginAt);
  const saved = JSON.parse(await readFile(path.join(b.dataDir, 'whatsapp', 'acme', 'auth', 'creds.json'), 'utf8'));
  assert.equal(saved.me.id, '15551234567:12@s.whatsapp.net');
  // No credential ever goes to crmd.
  assert.ok(!JSON.stringify(b.crmd.received.map((x) => x.body)).includes('secret-noise'));

  st = (await b.call('GET', '/sessions/acme/status')).body;
  assert.deepEqual(st, {
    state: 'close',
    qr: null,
    me: { id: '15551234567:12@s.whatsapp.net', name: 'Acme Sales' },
    lastDisconnect: { statusCode: 515, message: 'Stream Errored (restart required)', date: '2024-06-10T09:15:02.117Z' },
  });

  // The bridge never reconnects by itself.
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(b.sockets.length, 1);
  assert.equal(events(b.crmd).length, 6);

  // crmd calls start again: a second socket with the saved creds opens.
  assert.deepEqual((await b.call('POST', '/sessions/acme/start', {})).body, { ok: true, state: 'connecting' });
  assert.equal(b.sockets.length, 2);
  const s2 = b.sockets[1];
  s2.user = { id: '15551234567:12@s.whatsapp.net', name: 'Acme Sales', lid: '999@lid' };
  s2.emit('connection.update', { connection: 'open' });
  await b.bridge.idle();
  const open = events(b.crmd).at(-1);
  assert.deepEqual(open.data, { connection: 'open', me: { id: '15551234567:12@s.whatsapp.net', name: 'Acme Sales' } });
  assert.ok(open.seq > ev[5].seq);
  st = (await b.call('GET', '/sessions/acme/status')).body;
  assert.equal(st.state, 'open');
  assert.equal(st.qr, null);
  assert.deepEqual(st.me, { id: '15551234567:12@s.whatsapp.net', name: 'Acme Sales' });
  // Events from the old socket are ignored.
  s.emit('messages.upsert', { type: 'notify', messages: [] });
  await b.bridge.idle();
  assert.equal(events(b.crmd).length, 7);
});

test('a close is only reported: no reconnect for any close code', async (t) => {
  const b = await setup();
  t.after(b.close);
  for (const code of [428, 408, 500, 503, 440]) {
    await b.call('POST', '/sessions/acme/start', {});
    const s = b.sockets.at(-1);
    s.emit('connection.update', { connection: 'close', lastDisconnect: { error: boom(code, `code ${code}`), date: new Date(T0) } });
  }
  await new Promise((res) => setTimeout(res, 50));
  await b.bridge.idle();
  assert.equal(b.sockets.length, 5);
  assert.deepEqual(events(b.crmd).map((e) => e.data.lastDisconnect.statusCode), [428, 408, 500, 503, 440]);
  assert.equal((await b.call('GET', '/sessions/acme/status')).body.state, 'close');
});

test('start twice while connecting, in qr, or open does not create a second socket', async (t) => {
  const b = await setup();
  t.after(b.close);
  const both = await Promise.all([b.call('POST', '/sessions/acme/start', {}), b.call('POST', '/sessions/acme/start', {})]);
  assert.deepEqual(both.map((r) => r.body), [{ ok: true, state: 'connecting' }, { ok: true, state: 'connecting' }]);
  assert.equal(b.sockets.length, 1);
  b.sockets[0].emit('connection.update', { qr: QR(1) });
  assert.deepEqual((await b.call('POST', '/sessions/acme/start', { maxQrCodes: 2 })).body, { ok: true, state: 'qr' });
  b.sockets[0].user = { id: '1:1@s.whatsapp.net', name: 'A' };
  b.sockets[0].emit('connection.update', { connection: 'open' });
  assert.deepEqual((await b.call('POST', '/sessions/acme/start', {})).body, { ok: true, state: 'open' });
  assert.deepEqual((await b.call('POST', '/sessions/acme/start')).body, { ok: true, state: 'open' });
  assert.equal(b.sockets.length, 1);
  assert.equal(b.authLoads.length, 1);
  // Another tenant gets its own socket.
  await b.call('POST', '/sessions/other/start', {});
  assert.equal(b.sockets.length, 2);
  assert.equal(b.sockets[1].tenant, 'other');
});

test('maxQrCodes: after that many QR codes the socket ends with 408 "QR refs attempts ended"', async (t) => {
  const b = await setup();
  t.after(b.close);
  await b.call('POST', '/sessions/acme/start', { maxQrCodes: 2 });
  const s = b.sockets[0];
  for (let i = 1; i <= 3; i++) s.emit('connection.update', { qr: QR(i) });
  await waitFor(() => s.closed, { what: 'socket end' });
  await b.bridge.idle();
  const ev = events(b.crmd);
  assert.deepEqual(ev.map((e) => e.data.qr ?? e.data.connection), [QR(1), QR(2), 'close']);
  assert.equal(ev[2].data.lastDisconnect.statusCode, 408);
  assert.equal(ev[2].data.lastDisconnect.message, 'QR refs attempts ended');
  assert.equal(s.endCalls[0].output.statusCode, 408);
  const st = (await b.call('GET', '/sessions/acme/status')).body;
  assert.equal(st.state, 'close');
  assert.equal(st.qr, null);
  assert.equal(st.lastDisconnect.statusCode, 408);
  assert.equal(b.sockets.length, 1);
  // Default is 6.
  await b.call('POST', '/sessions/acme/start', {});
  const s2 = b.sockets[1];
  for (let i = 1; i <= 7; i++) s2.emit('connection.update', { qr: QR(i) });
  await waitFor(() => s2.closed, { what: 'socket end' });
  await b.bridge.idle();
  assert.equal(events(b.crmd).slice(3).filter((e) => e.data.qr).length, 6);
});

test('messages.upsert and messages.update forwarded as is (Long timestamps as numbers)', async (t) => {
  const b = await setup();
  t.after(b.close);
  await b.call('POST', '/sessions/acme/start', {});
  const s = b.sockets[0];
  s.user = { id: '15551234567:12@s.whatsapp.net', name: 'Acme Sales' };
  s.emit('connection.update', { connection: 'open' });
  const upsert = {
    type: 'notify',
    messages: [
      {
        key: { remoteJid: '15557654321@s.whatsapp.net', fromMe: false, id: '3A5F9C1E27B84D06A1C2' },
        message: { conversation: 'Hi, is the flat on Elm St still available?' },
        messageTimestamp: 1718010955,
        pushName: 'Ana Ruiz',
      },
    ],
  };
  s.emit('messages.upsert', upsert);
  const longTs = { low: 1718011020, high: 0, unsigned: true, toNumber() { return 1718011020; } };
  s.emit('messages.upsert', {
    type: 'append',
    messages: [{ key: { remoteJid: '15557654321@s.whatsapp.net', fromMe: true, id: '3EB0A1B2C3D4E5F60718' }, message: { extendedTextMessage: { text: 'Yes' } }, messageTimestamp: longTs, status: 2 }],
  });
  const upd = [{ key: { remoteJid: '15557654321@s.whatsapp.net', fromMe: true, id: '3EB0A1B2C3D4E5F60718' }, update: { status: 3 } }];
  s.emit('messages.update', upd);
  await b.bridge.idle();
  const ev = events(b.crmd);
  assert.deepEqual(ev.map((e) => e.event), ['connection.update', 'messages.upsert', 'messages.upsert', 'messages.update']);
  assert.deepEqual(ev[1].data, upsert);
  assert.equal(ev[2].data.messages[0].messageTimestamp, 1718011020);
  assert.deepEqual(ev[3].data, upd);
  for (let i = 1; i < ev.length; i++) assert.ok(ev[i].seq > ev[i - 1].seq);
  assert.equal(toWire({ b: new Uint8Array([1, 2, 3]) }), '{"b":"AQID"}');
});

test('send returns the Baileys id when open and 409 not_connected otherwise', async (t) => {
  const b = await setup();
  t.after(b.close);
  const msg = { to: '15557654321@s.whatsapp.net', text: 'Hello!' };
  let r = await b.call('POST', '/sessions/acme/messages', msg);
  assert.equal(r.status, 409);
  assert.deepEqual(r.body, { ok: false, error: 'not_connected', message: 'session is close' });
  await b.call('POST', '/sessions/acme/start', {});
  r = await b.call('POST', '/sessions/acme/messages', msg);
  assert.equal(r.status, 409);
  assert.equal(r.body.message, 'session is connecting');
  const s = b.sockets[0];
  s.emit('connection.update', { connection: 'open' });
  r = await b.call('POST', '/sessions/acme/messages', msg);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { ok: true, id: '3EB0FAKE0001' });
  assert.deepEqual(s.sent, [{ jid: msg.to, content: { text: 'Hello!' }, id: '3EB0FAKE0001' }]);
  for (const to of ['120363025246125486@g.us', '123456789@lid']) {
    assert.equal((await b.call('POST', '/sessions/acme/messages', { to, text: 'x' })).status, 200);
  }
  for (const bad of [{ to: '+15557654321', text: 'x' }, { to: msg.to }, { to: msg.to, text: '' }, { text: 'x' }]) {
    assert.equal((await b.call('POST', '/sessions/acme/messages', bad)).body.error, 'invalid_field');
  }
  s.emit('connection.update', { connection: 'close', lastDisconnect: { error: boom(428, 'Connection Closed'), date: new Date(T0) } });
  r = await b.call('POST', '/sessions/acme/messages', msg);
  assert.equal(r.status, 409);
  assert.equal(r.body.message, 'session is close');
});

test('logout logs out an open socket, reports close 401, removes the auth directory', async (t) => {
  const b = await setup({ me: { id: '15551234567:12@s.whatsapp.net', name: 'Acme Sales' } });
  t.after(b.close);
  await b.call('POST', '/sessions/acme/start', {});
  const s = b.sockets[0];
  s.user = { id: '15551234567:12@s.whatsapp.net', name: 'Acme Sales' };
  s.emit('connection.update', { connection: 'open' });
  s.emit('creds.update', {});
  await b.bridge.idle();
  const dir = path.join(b.dataDir, 'whatsapp', 'acme', 'auth');
  assert.ok((await stat(dir)).isDirectory());
  assert.deepEqual((await b.call('POST', '/sessions/acme/logout', {})).body, { ok: true });
  assert.equal(s.logoutCalls, 1);
  await assert.rejects(stat(dir), { code: 'ENOENT' });
  await b.bridge.idle();
  const last = events(b.crmd).at(-1);
  assert.equal(last.data.connection, 'close');
  assert.equal(last.data.lastDisconnect.statusCode, 401);
  const st = (await b.call('GET', '/sessions/acme/status')).body;
  assert.equal(st.state, 'close');
  assert.equal(st.me, null);
  assert.equal(st.lastDisconnect.statusCode, 401);
  // Logout of a session that is not running only drops the auth; next start pairs afresh.
  assert.deepEqual((await b.call('POST', '/sessions/ghost/logout')).body, { ok: true });
  await b.call('POST', '/sessions/acme/start', {});
  assert.equal(b.sockets.length, 2);
  // Logout while waiting for a QR scan ends the socket (no logout call) with 401.
  b.sockets[1].emit('connection.update', { qr: QR(1) });
  await b.call('POST', '/sessions/acme/logout', {});
  assert.equal(b.sockets[1].logoutCalls, 0);
  assert.equal(b.sockets[1].endCalls[0].output.statusCode, 401);
});

test('a named session (/sessions/{tenant}/{session}/...) has its own socket, auth folder, seq and deliveries; main is untouched', async (t) => {
  const b = await setup();
  t.after(b.close);
  assert.equal((await b.call('POST', '/sessions/acme/start', {})).status, 200);
  assert.equal((await b.call('POST', '/sessions/acme/sales/start', {})).status, 200);
  assert.equal(b.sockets.length, 2, 'one socket each');
  assert.equal((await b.call('POST', '/sessions/acme/sales/start', {})).status, 200);
  assert.equal(b.sockets.length, 2, 'start stays single-flight per session');
  assert.equal(b.sockets[1].session, 'sales');
  assert.deepEqual(b.authLoads.map((l) => path.relative(b.dataDir, l.dir)),
    [path.join('whatsapp', 'acme', 'auth'), path.join('whatsapp', 'acme', 'sessions', 'sales', 'auth')]);
  const [main, sales] = b.sockets;
  sales.emit('connection.update', { qr: QR(1) });
  main.emit('connection.update', { connection: 'open' });
  await b.bridge.idle();
  const got = events(b.crmd);
  const fromSales = got.filter((e) => e.session === 'sales');
  assert.equal(fromSales.length, 1);
  assert.equal(fromSales[0].data.qr, QR(1));
  assert.ok(got.filter((e) => e.data.connection === 'open').every((e) => !('session' in e)), 'main is not named');
  assert.equal((await b.call('GET', '/sessions/acme/sales/status')).body.state, 'qr');
  assert.equal((await b.call('GET', '/sessions/acme/status')).body.state, 'open');
  // Sending goes through the named session's socket only.
  sales.emit('connection.update', { connection: 'open' });
  const msg = { to: '15557654321@s.whatsapp.net', text: 'from sales' };
  assert.equal((await b.call('POST', '/sessions/acme/sales/messages', msg)).status, 200);
  assert.equal(sales.sent.length, 1);
  assert.equal(main.sent.length, 0);
  // Logging the named session out leaves main and its auth alone.
  assert.deepEqual((await b.call('POST', '/sessions/acme/sales/logout', {})).body, { ok: true });
  await assert.rejects(stat(path.join(b.dataDir, 'whatsapp', 'acme', 'sessions', 'sales', 'auth')), { code: 'ENOENT' });
  assert.ok((await stat(path.join(b.dataDir, 'whatsapp', 'acme', 'auth'))).isDirectory());
  assert.equal((await b.call('GET', '/sessions/acme/status')).body.state, 'open');
  assert.equal((await b.call('POST', '/sessions/acme/%2e%2e/start', {})).status, 404, 'dot segments never name a session');
  for (const bad of ['Sales', 'a%2Fb', 'a'.repeat(33)]) {
    const r = await b.call('POST', `/sessions/acme/${bad}/start`, {});
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.error, 'invalid_field');
  }
  assert.equal((await b.call('POST', '/sessions/acme//start', {})).status, 400, 'an empty name');
  assert.equal((await b.call('POST', '/sessions/acme/sales/x/start', {})).status, 404);
  assert.equal(b.sockets.length, 2, 'a refused session starts nothing');
});

test('restart replaces a stuck or open socket without reporting its close; a plain start leaves it', async (t) => {
  const b = await setup();
  t.after(b.close);
  await b.call('POST', '/sessions/acme/start', {});
  const stuck = b.sockets[0];
  stuck.emit('connection.update', { connection: 'connecting' });
  assert.equal((await b.call('POST', '/sessions/acme/start', {})).body.state, 'connecting');
  assert.equal(b.sockets.length, 1, 'a plain start is single-flight');
  const r = await b.call('POST', '/sessions/acme/start', { restart: true });
  assert.equal(r.status, 200);
  assert.equal(b.sockets.length, 2, 'a new socket');
  assert.equal(stuck.endCalls.length, 1, 'the old one ended');
  await b.bridge.idle();
  assert.ok(events(b.crmd).every((e) => e.data.connection !== 'close'), 'its close is not reported');
  b.sockets[1].emit('connection.update', { connection: 'open' });
  assert.equal((await b.call('GET', '/sessions/acme/status')).body.state, 'open');
  stuck.emit('connection.update', { qr: QR(9) }); // a late event of the old socket
  assert.equal((await b.call('GET', '/sessions/acme/status')).body.state, 'open');
  assert.equal((await b.call('POST', '/sessions/acme/start', { restart: 'yes' })).status, 400);
});

test('every creds.update is saved, in order, each before the deliveries that follow it', async (t) => {
  const b = await setup();
  t.after(b.close);
  await b.call('POST', '/sessions/acme/start', {});
  const s = b.sockets[0];
  s.emit('connection.update', { connection: 'open' });
  // Baileys mutates creds in place and emits creds.update many times a session
  // (pre-keys, app state); every one must reach the disk, the last one last.
  for (let i = 1; i <= 5; i++) {
    s.auth.creds.nextPreKeyId = i;
    s.emit('creds.update', { nextPreKeyId: i });
    s.emit('messages.upsert', { type: 'notify', messages: [{ key: { remoteJid: '1@s.whatsapp.net', id: `M${i}` } }] });
  }
  await b.bridge.idle();
  assert.equal(b.saves.length, 5, 'one save per update');
  const saved = JSON.parse(await readFile(path.join(b.dataDir, 'whatsapp', 'acme', 'auth', 'creds.json'), 'utf8'));
  assert.equal(saved.nextPreKeyId, 5, 'the last state is on disk');
  const upserts = b.crmd.received.filter((x) => x.body.event === 'messages.upsert');
  assert.equal(upserts.length, 5);
  for (let i = 0; i < 5; i++) assert.ok(b.saves[i].at < upserts[i].at, `save ${i + 1} before the delivery after it`);
});

test('webhook delivery retries 5xx with backoff, in order; a 4xx is final', async (t) => {
  const b = await setup({ retry: { attempts: 4, baseMs: 5 } });
  t.after(b.close);
  await b.call('POST', '/sessions/acme/start', {});
  const s = b.sockets[0];
  b.crmd.state.failNext = 2;
  s.emit('connection.update', { qr: QR(1) });
  s.emit('connection.update', { qr: QR(2) });
  await b.bridge.idle();
  assert.deepEqual(events(b.crmd).map((e) => e.data.qr), [QR(1), QR(2)]);
  assert.equal(b.crmd.state.attempts, 4);
  b.crmd.state.failNext = 1;
  b.crmd.state.failStatus = 400;
  s.emit('connection.update', { qr: QR(3) });
  s.emit('connection.update', { qr: QR(4) });
  await b.bridge.idle();
  assert.deepEqual(events(b.crmd).map((e) => e.data.qr), [QR(1), QR(2), QR(4)]);
  assert.equal(b.crmd.state.attempts, 6);
});

test('webhook delivery survives network errors (crmd down, then up)', async (t) => {
  const down = await setup({ crmdUrl: 'http://127.0.0.1:9', retry: { attempts: 2, baseMs: 1 } });
  t.after(down.close);
  await down.call('POST', '/sessions/acme/start', {});
  down.sockets[0].emit('connection.update', { qr: QR(1) });
  await down.bridge.idle(); // dropped after 2 attempts, no throw
  assert.equal((await down.call('GET', '/sessions/acme/status')).body.state, 'qr');
});

test('seq is monotonic across bridge restarts (Date.now()*1000 floor)', async (t) => {
  let clock = T0;
  const a = await setup({ now: () => clock });
  t.after(a.close);
  await a.call('POST', '/sessions/acme/start', {});
  for (let i = 0; i < 50; i++) a.sockets[0].emit('connection.update', { qr: QR(i) });
  await a.bridge.idle();
  const lastA = events(a.crmd).at(-1).seq;
  // 6 QR codes (the default cap), then the 408 close; clock frozen: +1 each.
  assert.equal(events(a.crmd).length, 7);
  assert.equal(lastA, T0 * 1000 + 6);
  clock = T0 + 1; // one millisecond later, a new bridge process
  const b2 = await setup({ now: () => clock, dataDir: a.dataDir });
  t.after(b2.close);
  await b2.call('POST', '/sessions/acme/start', {});
  b2.sockets[0].emit('connection.update', { connection: 'connecting' });
  await b2.bridge.idle();
  assert.ok(events(b2.crmd)[0].seq > lastA);
  // A clock that stands still or steps back never makes seq go down.
  clock = T0 - 5000;
  b2.sockets[0].emit('connection.update', { qr: QR(1) });
  await b2.bridge.idle();
  const ev = events(b2.crmd);
  assert.ok(ev[1].seq > ev[0].seq);
});

test('flattenDisconnect handles Boom, plain errors and missing dates', () => {
  const now = () => T0;
  assert.deepEqual(flattenDisconnect({ error: boom(401, 'Connection Failure'), date: new Date(T0) }), {
    statusCode: 401, message: 'Connection Failure', date: new Date(T0).toISOString(),
  });
  assert.deepEqual(flattenDisconnect({ error: new Error('boom') }, now), { statusCode: null, message: 'boom', date: new Date(T0).toISOString() });
  assert.deepEqual(flattenDisconnect(undefined, now), { statusCode: null, message: null, date: new Date(T0).toISOString() });
  // A Boom through JSON.stringify loses message; the flat form keeps it.
  assert.equal(JSON.parse(JSON.stringify({ e: boom(515, 'Stream Errored') })).e.message, undefined);
});

test('the bridge core and these tests never load Baileys (they run on Node 18 without npm ci)', async () => {
  const here = path.dirname(new URL(import.meta.url).pathname);
  for (const f of ['../src/bridge.js', '../src/server.js', 'helpers.js', 'bridge.test.js']) {
    const text = await readFile(path.join(here, f), 'utf8');
    const imports = text.split('\n').filter((l) => /^\s*import\b/.test(l) || /\bimport\(/.test(l));
    assert.ok(imports.every((l) => !l.includes('baileys')), `${f} imports Baileys`);
  }
});
