/**
 * Log formats (issue 16: JSON with numeric levels gave every journald line one priority; a failed
 * install wrote no log line): pretty on a TTY, `<N>` syslog priorities under systemd, json otherwise.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { buildApp } from '../../server/http/app.js';
import { createLogger, formatRecord, resolveLogFormat, type LogFormat } from '../../server/log.js';
import { builtRackboot } from '../helpers/built-cli.js';
import { rackboot } from '../helpers/cli.js';
import { testProvisioner } from '../helpers/provisioner.js';

function capture(format: LogFormat | undefined, level = 'trace') {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  return { logger: createLogger(level, sink, format), lines };
}

test('journal: every line starts with the syslog priority of its level (sd-daemon <N> prefix)', () => {
  const { logger, lines } = capture('journal');
  const http = logger.child({ svc: 'http' });
  http.debug('d');
  http.info({ port: 8080 }, 'listening');
  http.warn('a DHCP server answered on the provisioning network');
  http.error({ err: new Error('boom') }, 'request failed');
  logger.fatal('cannot start');
  assert.deepEqual(lines.map((l) => /^<(\d)>/.exec(l)?.[1]), ['7', '6', '4', '3', '2']);
  assert.equal(lines[1], '<6>INFO  http: listening port=8080');
  assert.match(lines[3] ?? '', /^<3>ERROR http: request failed err="Error: boom"$/);
  for (const line of lines) assert.doesNotMatch(line, /^<\d>\{/, 'not JSON');
});

test('pretty: one human-readable line a record, with its time; newlines in a message stay on the line', () => {
  const { logger, lines } = capture('pretty');
  logger.child({ svc: 'dhcp' }).warn({ mac: '52:54:00:aa:00:01', reason: 'two words' }, 'offer refused\nsecond line');
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}dhcp: offer refused\\nsecond line mac=52:54:00:aa:00:01 reason="two words"$/);
});

test('json stays pino JSON; `auto` is journal under systemd, pretty on a TTY, json otherwise', () => {
  const { logger, lines } = capture('json');
  logger.info('x');
  assert.equal(JSON.parse(lines[0] ?? '').level, 30);
  assert.equal(resolveLogFormat('auto', { JOURNAL_STREAM: '8:12345' }, true), 'journal');
  assert.equal(resolveLogFormat('auto', { JOURNAL_STREAM: '8:12345' }, false), 'journal');
  assert.equal(resolveLogFormat('auto', {}, true), 'pretty');
  assert.equal(resolveLogFormat('auto', {}, false), 'json');
  assert.equal(resolveLogFormat('json', { JOURNAL_STREAM: '8:1' }, true), 'json');
  assert.equal(formatRecord({ level: 30, time: 0, msg: 'm', svc: 's', n: 1, obj: { a: 1 } }, false), 'INFO  s: m n=1 obj="{\\"a\\":1}"');
});

test('a failed install writes an error line with the machine, its MAC and the reason', async () => {
  const t = testProvisioner();
  t.provisioner.registerMachine({ name: 'blade-07', macs: ['52:54:00:99:00:07'], ip: '10.99.0.17', role: 'dev' });
  const { logger, lines } = capture('json', 'info');
  const app = await buildApp({ provisioner: t.provisioner, assetsDir: '/nonexistent', firmwareDir: '/nonexistent', logger });
  try {
    const script = await app.inject({ url: '/ipxe?mac=52-54-00-99-00-07', remoteAddress: '10.99.0.17' });
    const token = /\/callback\/([^\s/]+)/.exec(script.body)?.[1] ?? /\/boot\/([^/\s]+)\//.exec(script.body)?.[1];
    assert.ok(token, script.body);
    const res = await app.inject({ method: 'POST', url: `/callback/${token}`, payload: { event: 'failed', message: 'disk /dev/sda not found' }, remoteAddress: '10.99.0.17' });
    assert.equal(res.statusCode, 200, res.body);
    const failed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg !== undefined && /install failed/.test(String(r.msg)));
    assert.equal(failed.length, 1, lines.join('\n'));
    assert.equal(failed[0]?.level, 50);
    assert.equal(failed[0]?.machine, 'blade-07');
    assert.equal(failed[0]?.mac, '52:54:00:99:00:07');
    assert.equal(failed[0]?.reason, 'disk /dev/sda not found');
  } finally {
    await app.close();
  }
});

test('RACKBOOT_LOG_FORMAT must name a format (source and built CLI)', () => {
  for (const run of [rackboot, builtRackboot]) {
    const result = run(['serve'], { RACKBOOT_LOG_FORMAT: 'fancy' });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /RACKBOOT_LOG_FORMAT must be one of auto, json, pretty, journal/);
  }
});
