/** The HTTP bounds and TLS keys of the config (issue 15): safe defaults, cross-field rules, paths. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../server/config/config.js';

test('HTTP limits and the event stream have safe defaults; TLS is off', () => {
  const { config } = parseConfig('{}', 'f', '/etc/rb');
  assert.deepEqual(config?.http.limits, {
    maxConnections: 2048,
    maxConnectionsPerClient: 64,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 5_000,
    connectionTimeoutMs: 60_000,
  });
  assert.deepEqual(config?.http.eventStream, { maxConnections: 64, maxConnectionsPerClient: 8, maxReplay: 1000, maxBufferedBytes: 1_048_576 });
  assert.equal(config?.http.tls, undefined);
});

test('a header deadline longer than the request deadline is refused', () => {
  const { config, errors } = parseConfig('http: {limits: {headersTimeoutMs: 60000, requestTimeoutMs: 30000}}', 'f', '/');
  assert.equal(config, null);
  assert.match(errors.join('\n'), /http\.limits\.headersTimeoutMs/);
});

test('an idle timeout below the event stream heartbeat is refused', () => {
  const { errors } = parseConfig('http: {limits: {connectionTimeoutMs: 5000}}', 'f', '/');
  assert.match(errors.join('\n'), /http\.limits\.connectionTimeoutMs/);
});

test('TLS files resolve against the config directory; the TLS port must differ from the plain one', () => {
  const { config } = parseConfig('http: {tls: {certFile: tls/cert.pem, keyFile: /etc/ssl/key.pem}}', 'f', '/etc/rb');
  assert.deepEqual(config?.http.tls, { certFile: '/etc/rb/tls/cert.pem', keyFile: '/etc/ssl/key.pem', port: 8443 });
  const clash = parseConfig('http: {port: 8443, tls: {certFile: c, keyFile: k}}', 'f', '/');
  assert.match(clash.errors.join('\n'), /http\.tls\.port/);
});
