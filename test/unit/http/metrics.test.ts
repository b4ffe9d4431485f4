import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import type { EventFeed } from '../../../server/http/events-stream.js';
import { metricsRoutes } from '../../../server/http/metrics.js';

test('/metrics: TFTP refusals by limit, and DECLINEs over budget among the DHCP ignore reasons', async () => {
  const app = Fastify();
  const feed = { subscribe: () => () => {} } as unknown as EventFeed;
  await metricsRoutes(app, {
    inventory: { listMachines: () => [], machineById: () => null, listEvents: () => [] },
    feed,
    defaultMetrics: false,
    sources: {
      tftp: () => ({ refused: 12, refusedMaxTransfers: 1, refusedMaxPerClient: 4, refusedClientRate: 7 }),
      dhcp: () => ({ ignoredByReason: { declined: 5, 'decline-over-budget': 46 } }),
    },
  });
  try {
    const text = (await app.inject('/metrics')).body;
    assert.match(text, /^rackboot_tftp_refused_total\{reason="max-transfers"\} 1$/m);
    assert.match(text, /^rackboot_tftp_refused_total\{reason="max-per-client"\} 4$/m);
    assert.match(text, /^rackboot_tftp_refused_total\{reason="client-rate"\} 7$/m);
    assert.match(text, /^rackboot_dhcp_ignored_total\{reason="decline-over-budget"\} 46$/m);
  } finally {
    await app.close();
  }
});

test('/metrics: DHCP load shedding and worker restarts', async () => {
  const app = Fastify();
  const feed = { subscribe: () => () => {} } as unknown as EventFeed;
  await metricsRoutes(app, {
    inventory: { listMachines: () => [], machineById: () => null, listEvents: () => [] },
    feed,
    defaultMetrics: false,
    sources: {
      dhcp: () => ({ ignoredByReason: { shed: 31 }, admission: { admitted: 900, shed: 31, admittedMacs: 412, queued: 77 }, workerRestarts: 2 }),
    },
  });
  try {
    const text = (await app.inject('/metrics')).body;
    assert.match(text, /^rackboot_dhcp_shed_total 31$/m);
    assert.match(text, /^rackboot_dhcp_admitted_macs 412$/m);
    assert.match(text, /^rackboot_dhcp_queue_depth 77$/m);
    assert.match(text, /^rackboot_dhcp_worker_restarts_total 2$/m);
    assert.match(text, /^rackboot_dhcp_ignored_total\{reason="shed"\} 31$/m);
  } finally {
    await app.close();
  }
});
