/**
 * Routes machines use while they boot: the iPXE chain script, the per-machine script, kernel and
 * initrd bound to the boot token, the cloud-config or Ignition config and the callbacks. They are open (machines have no
 * credentials) but every per-machine URL carries the boot token minted with the machine's script,
 * and tokens are minted for and accepted from the machine's own address only (core/boot-binding.ts).
 * `request.ip` is the TCP peer: app.ts never trusts forwarding headers.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AssetVerifier } from '../assets/mirror.js';
import type { Outcome, Provisioner } from '../core/provisioner.js';
import type { Machine, MachineEvent } from '../core/types.js';
import { errorBody, httpStatus } from '../errors.js';
import { resolveConfined } from '../net/confine.js';
import type { EtcdMembership } from '../services/etcd-membership.js';
import { FileChunkCache } from './file-chunks.js';
import { installRoutes } from './install-routes.js';
import { writeLimitHook, type WriteLimit } from './write-limit.js';

const IPXE_TYPE = 'text/plain; charset=utf-8';

export interface BootRoutesOptions {
  readonly provisioner: Provisioner;
  readonly assetsDir: string;
  /** The iPXE binaries (the TFTP root): UEFI HTTP-boot clients fetch them over HTTP. */
  readonly firmwareDir: string;
  /** Files or directories outside firmwareDir that its symlinks may point to (tftp.symlinkTargets). */
  readonly firmwareSymlinkTargets?: readonly string[];
  /** Per-source rate limit on the routes that write (write-limit.ts); absent: none. */
  readonly writeLimit?: WriteLimit;
  /** Counts requests refused because their file resolves outside its directory (for /metrics). */
  readonly stats?: { pathEscapes: number; firmwareNotFound: number };
  /** The etcd membership adapter: decides and changes membership before a member's config renders; absent: static bootstrap. */
  readonly etcd?: EtcdMembership;
}

/**
 * `path` below `root`, with every symlink resolved, as [real root, path relative to it]; null when
 * it does not exist; 'escape' when it resolves outside the root and every allowed symlink target.
 */
export async function confinedPath(root: string, path: string, symlinkTargets: readonly string[] = []): Promise<{ root: string; path: string } | null | 'escape'> {
  return resolveConfined(root, path, symlinkTargets);
}

/** A failed install is worth a log line of its own: the operator's journal says which machine and why. */
function logFailedInstall(log: FastifyBaseLogger, event: MachineEvent, machine: Machine | null): void {
  log.error({ machine: machine?.name ?? null, mac: machine?.macs[0] ?? event.mac, reason: event.message, eventId: event.id }, `install failed on ${machine?.name ?? event.mac ?? 'an unknown machine'}: ${event.message}`);
}

/** The OpenAPI summary of a boot route (no schema: boot clients get plain-text errors, never a validation error). */
const doc = (summary: string) => ({ schema: { summary, tags: ['boot'] } });

export async function bootRoutes(app: FastifyInstance, options: BootRoutesOptions): Promise<void> {
  const { provisioner, assetsDir, firmwareDir } = options;
  const stats = options.stats ?? { pathEscapes: 0, firmwareNotFound: 0 };
  // files of imported mirror versions are served only while they match their manifest
  const verifier = new AssetVerifier(assetsDir);
  // file bodies (kernel, initrd, /assets, iPXE over HTTP) come from one shared chunk cache (bench/http)
  app.addHook('onSend', new FileChunkCache().onSend);
  if (options.writeLimit) app.addHook('onRequest', writeLimitHook(options.writeLimit));
  await installRoutes(app, { provisioner, ...(options.etcd ? { etcd: options.etcd } : {}) });

  app.get('/boot.ipxe', doc('the chain script every PXE client loads first (embedded in the iPXE binaries)'), async (_request, reply) => reply.type(IPXE_TYPE).send(provisioner.chainScript()));

  app.get<{ Querystring: { mac?: string; uuid?: string } }>('/ipxe', doc("a machine's iPXE script: its role's boot, the menu, or its disk"), async (request, reply) => {
    const outcome = provisioner.machineScript({ ...pick(request.query), clientIp: request.ip });
    return sendOutcome(reply.type(IPXE_TYPE), outcome);
  });

  // UEFI HTTP boot (option 60 HTTPClient) is handed this URL instead of a TFTP file name.
  app.get<{ Params: { file: string } }>('/ipxe/:file', doc('an iPXE binary, for UEFI HTTP boot'), async (request, reply) => {
    const file = request.params.file;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\.(efi|kpxe|pxe|lkrn)$/.test(file)) return reply.code(404).send('not an iPXE binary\n');
    const found = await confinedPath(firmwareDir, file, options.firmwareSymlinkTargets);
    if (found === 'escape') stats.pathEscapes += 1;
    if (found === null || found === 'escape') {
      stats.firmwareNotFound += 1;
      provisioner.bootFileFailed(request.ip, 'http', `/ipxe/${file}`, found === null ? 'not-found' : 'denied: resolves outside the firmware directory');
      return reply.code(404).send(`${file} is not in ${firmwareDir}\n`);
    }
    return reply.sendFile(found.path, found.root);
  });

  app.get<{ Params: { token: string; name: string } }>('/boot/:token/kernel/:name', doc("the kernel of the machine's boot (boot token; ranges)"), async (request, reply) =>
    sendBootAsset(reply, request.params.token, 'kernel', 0, request.ip),
  );
  app.get<{ Params: { token: string; index: string; name: string } }>(
    '/boot/:token/initrd/:index/:name',
    doc("an initrd of the machine's boot (boot token; ranges)"),
    async (request, reply) => sendBootAsset(reply, request.params.token, 'initrd', Number(request.params.index), request.ip),
  );

  // The boot menu's `chain .../menu/<token>/${choice}`
  app.get<{ Params: { token: string; item: string } }>('/menu/:token/:item', doc('the boot menu choice of a machine (boot token)'), async (request, reply) =>
    sendOutcome(reply.type(IPXE_TYPE), provisioner.menuChoice(request.params.token, request.params.item, request.ip)),
  );

  // Offline assets (etcd, Kubernetes, OS images) that booted systems fetch; range requests work.
  app.get<{ Params: { '*': string } }>('/assets/*', doc('an offline asset (images, packages) for booted systems; ranges'), async (request, reply) => {
    const path = request.params['*'];
    if (path === '' || path.split('/').some((part) => part === '..' || part === '' || part.startsWith('.'))) {
      return reply.code(404).type('text/plain').send('not found\n');
    }
    // symlinks are resolved first: whatever the name, the file served is inside the assets directory
    const found = await confinedPath(assetsDir, path);
    if (found === 'escape') stats.pathEscapes += 1;
    if (found === null || found === 'escape') return reply.code(404).type('text/plain').send(`asset ${path} is not on the server\n`);
    const check = await verifier.check(path);
    if (!check.ok) {
      if (check.status === 409) provisioner.assetRefused(request.ip, check.message);
      return reply.code(check.status).type('text/plain').send(`${check.message}\n`);
    }
    return reply.sendFile(found.path, found.root);
  });

  app.get<{ Params: { token: string } }>('/cloud-config/:token', doc("the machine's cloud-config (config token)"), async (request, reply) => {
    if (options.etcd) {
      const prepared = await options.etcd.beforeRender(request.params.token, request.ip, 'cloud-config');
      if (!prepared.ok) return reply.code(httpStatus(prepared.code)).type('text/plain; charset=utf-8').send(`${prepared.message}\n`);
    }
    return sendOutcome(reply.type('text/cloud-config; charset=utf-8'), provisioner.cloudConfig(request.params.token, request.ip));
  });

  // Ignition in the initramfs fetches this from `ignition.config.url=` (one-time token, like the cloud-config)
  app.get<{ Params: { token: string } }>('/ignition/:token', doc("the machine's Ignition config (config token)"), async (request, reply) => {
    // the same config token and membership step as /cloud-config: a member rejoins in either format
    if (options.etcd) {
      const prepared = await options.etcd.beforeRender(request.params.token, request.ip, 'cloud-config');
      if (!prepared.ok) return reply.code(httpStatus(prepared.code)).type('text/plain; charset=utf-8').send(`${prepared.message}\n`);
    }
    return sendOutcome(reply.type('application/vnd.coreos.ignition+json; charset=utf-8'), provisioner.ignitionConfig(request.params.token, request.ip));
  });

  app.post<{ Params: { token: string }; Body: { event?: unknown; message?: unknown } }>(
    '/callback/:token',
    { schema: { summary: 'an install callback: progress, done, failed (boot token)', tags: ['boot'], body: { type: 'object', properties: { event: { type: 'string' }, message: { type: 'string' } }, required: ['event'] } } },
    async (request, reply) => {
      const outcome = provisioner.callback(request.params.token, request.body, request.ip);
      if (!outcome.ok) return reply.code(httpStatus(outcome.code)).send(errorBody(outcome.code, outcome.message));
      if (outcome.value.type === 'failed') logFailedInstall(request.log, outcome.value, outcome.value.machineId === null ? null : provisioner.machineById(outcome.value.machineId));
      return reply.send({ recorded: outcome.value.type, id: outcome.value.id });
    },
  );

  async function sendBootAsset(reply: FastifyReply, token: string, kind: 'kernel' | 'initrd', index: number, clientIp: string) {
    const outcome = provisioner.bootAsset(token, kind, index, clientIp);
    if (!outcome.ok) return reply.code(httpStatus(outcome.code)).type('text/plain').send(`${outcome.message}\n`);
    const asset = outcome.value;
    if (!existsSync(join(assetsDir, asset.path))) {
      provisioner.record(asset.machine, 'failed', `boot asset missing on the server: ${join(assetsDir, asset.path)}`);
      return reply.code(404).type('text/plain').send(`asset ${asset.path} is missing on the server\n`);
    }
    reply.raw.once('finish', () => {
      // a download counts once: a whole file, or the first of a series of range requests
      const range = String(reply.getHeader('content-range') ?? '');
      if (reply.statusCode === 200 || (reply.statusCode === 206 && range.startsWith('bytes 0-'))) {
        provisioner.assetServed(asset, kind, Number(reply.getHeader('content-length') ?? 0));
      }
    });
    return reply.sendFile(asset.path, assetsDir);
  }
}

function sendOutcome(reply: FastifyReply, outcome: Outcome<string>) {
  if (!outcome.ok) return reply.code(httpStatus(outcome.code)).send(`${outcome.message}\n`);
  return reply.send(outcome.value);
}

function pick(query: { mac?: string; uuid?: string }): { mac?: string; uuid?: string } {
  const out: { mac?: string; uuid?: string } = {};
  if (typeof query.mac === 'string' && query.mac !== '') out.mac = query.mac;
  if (typeof query.uuid === 'string' && query.uuid !== '') out.uuid = query.uuid;
  return out;
}
