/**
 * The etcd membership adapter (docs/etcd.md): talks to each cluster's v3 JSON API (the gRPC gateway
 * etcd 3.4 serves on its client URL) with rackboot's client certificate, executes what
 * core/etcd-membership.ts decides before a member-role machine gets its config, and keeps each
 * cluster's health for the API, CLI and dashboard.
 *
 * Bounds: every request times out (REQUEST_TIMEOUT_MS), one change runs per cluster at a time, the
 * health poll visits each cluster's members once per interval, the state file holds one entry per
 * cluster of the role table.
 */
import { request as httpsRequest } from 'node:https';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientUrl, type EtcdClusterPlan, type EtcdCredentials } from '../core/cluster.js';
import { clusterHealth, decideMembership, type ClusterHealth, type MembershipDecision, type Observation, type ObservedMember } from '../core/etcd-membership.js';
import type { Outcome, Provisioner } from '../core/provisioner.js';

export const REQUEST_TIMEOUT_MS = 3000;
const MAX_RESPONSE_BYTES = 1 << 20;

/** POST a JSON body to https://<endpoint><path>; the parsed answer, or an Error. */
export type EtcdCall = (endpoint: string, path: string, body: Record<string, unknown>) => Promise<unknown>;

/** The etcd v3 JSON API over TLS, authenticated with `credentials` (rackboot's client certificate). */
export function etcdHttpsCall(credentials: EtcdCredentials, timeoutMs = REQUEST_TIMEOUT_MS): EtcdCall {
  return (endpoint, path, body) =>
    new Promise((resolve, reject) => {
      const url = new URL(path, endpoint);
      const payload = JSON.stringify(body);
      const req = httpsRequest(
        url,
        {
          method: 'POST',
          ca: credentials.caCert,
          cert: credentials.cert,
          key: credentials.key,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`${url.href}: answer larger than ${MAX_RESPONSE_BYTES} bytes`));
            else chunks.push(chunk);
          });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 0) >= 300) return reject(new Error(`${url.href}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            try {
              resolve(JSON.parse(text));
            } catch {
              reject(new Error(`${url.href}: not JSON: ${text.slice(0, 200)}`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${url.href}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
}

/** Which clusters rackboot has seen running: <dataDir>/etcd-clusters.json, one entry per cluster. */
export class FormedClusters {
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'etcd-clusters.json');
  }

  read(): Record<string, { clusterId: string; firstSeenAt: number; lastSeenAt: number }> {
    if (!existsSync(this.path)) return {};
    try {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as { clusters?: Record<string, { clusterId: string; firstSeenAt: number; lastSeenAt: number }> };
      return parsed.clusters ?? {};
    } catch {
      return {};
    }
  }

  formed(cluster: string): boolean {
    return this.read()[cluster] !== undefined;
  }

  /** Records the cluster id (written only when it is new or changed). */
  seen(cluster: string, clusterId: string, now: number): void {
    const all = this.read();
    const known = all[cluster];
    if (known && known.clusterId === clusterId) return;
    all[cluster] = { clusterId, firstSeenAt: now, lastSeenAt: now };
    this.write(all);
  }

  /** The operator's decision after a cold start: the next boots form a new cluster. True when there was an entry. */
  forget(cluster: string): boolean {
    const all = this.read();
    if (all[cluster] === undefined) return false;
    delete all[cluster];
    this.write(all);
    return true;
  }

  private write(all: Record<string, unknown>): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ clusters: all }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

interface RawMember {
  ID?: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
}

export interface EtcdMembershipOptions {
  readonly provisioner: Provisioner;
  readonly call: EtcdCall;
  readonly formed: FormedClusters;
  readonly now?: () => number;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
}

export class EtcdMembership {
  private readonly provisioner: Provisioner;
  private readonly call: EtcdCall;
  private readonly formed: FormedClusters;
  private readonly now: () => number;
  private readonly log: (level: 'info' | 'warn', message: string) => void;
  /** One change at a time per cluster: a promise chain per cluster id. */
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly health = new Map<string, ClusterHealth>();
  private timer: NodeJS.Timeout | null = null;

  constructor(options: EtcdMembershipOptions) {
    this.provisioner = options.provisioner;
    this.call = options.call;
    this.formed = options.formed;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
  }

  /**
   * Before /cloud-config/<token> (memory mode) or /install/<token> (install mode): decide and
   * change the membership for the machine, so the render that follows carries the right state.
   * ok for every request that is not a member-role machine's own (the route then answers as usual).
   */
  async beforeRender(token: string, clientIp: string, route: 'cloud-config' | 'install'): Promise<Outcome<MembershipDecision | null>> {
    const target = this.provisioner.etcdTarget(token, clientIp, route);
    if (target === null) return { ok: true, value: null };
    const { machine, plan } = target;
    return this.exclusive(plan.cluster, async () => {
      const observation = await this.observe(plan);
      if (observation.reachable) this.formed.seen(plan.cluster, observation.clusterId, this.now());
      const decision = decideMembership({
        machine: { name: machine.name, ip: machine.ip ?? '', mode: machine.bootMode },
        plan,
        observation,
        formedBefore: this.formed.formed(plan.cluster),
      });
      if (decision.kind === 'cold-start') {
        this.provisioner.setEtcdMembership(machine, null);
        this.provisioner.noteEtcd(machine, decision.reason, { etcd: 'cold-start', cluster: plan.cluster });
        this.log('warn', decision.reason);
        return { ok: false, code: 'RACKBOOT_ERR_ETCD_COLD_START', message: decision.reason };
      }
      if (observation.reachable && decision.actions.length > 0) {
        const done = await this.execute(plan, observation, decision);
        if (!done.ok) {
          this.provisioner.noteEtcd(machine, `etcd membership change for ${machine.name} failed: ${done.message}`, { etcd: 'failed', cluster: plan.cluster });
          return done;
        }
        this.provisioner.noteEtcd(machine, `etcd ${plan.cluster}: ${decision.reason} (${describeActions(decision)})`, { etcd: decision.kind, cluster: plan.cluster });
        this.log('info', `etcd ${plan.cluster}: ${decision.reason}`);
      }
      this.provisioner.setEtcdMembership(machine, decision.render);
      return { ok: true, value: decision };
    });
  }

  /** The first member of the plan (or of the last answer) that lists the members. */
  async observe(plan: EtcdClusterPlan, extra: readonly string[] = []): Promise<Observation> {
    const endpoints = [...new Set([...plan.members.map((m) => clientUrl(m.ip)), ...extra])];
    const reasons: string[] = [];
    for (const endpoint of endpoints) {
      try {
        const answer = (await this.call(endpoint, '/v3/cluster/member/list', {})) as { header?: { cluster_id?: string }; members?: RawMember[] };
        return { reachable: true, clusterId: String(answer.header?.cluster_id ?? ''), members: (answer.members ?? []).map(toObserved) };
      } catch (error) {
        reasons.push(`${endpoint}: ${(error as Error).message}`);
      }
    }
    return { reachable: false, reason: reasons.length === 0 ? 'no members planned' : reasons.join('; ') };
  }

  private async execute(plan: EtcdClusterPlan, observation: Extract<Observation, { reachable: true }>, decision: Extract<MembershipDecision, { actions: unknown }>): Promise<Outcome<null>> {
    // ask a member that stays: one that started and is not being removed
    const removed = new Set(decision.actions.flatMap((a) => (a.kind === 'remove' ? [a.id] : [])));
    const endpoints = observation.members.filter((m) => !removed.has(m.id) && m.clientUrls.length > 0).map((m) => m.clientUrls[0] as string);
    for (const action of decision.actions) {
      let last = 'no member to ask';
      let done = false;
      for (const endpoint of endpoints) {
        try {
          if (action.kind === 'remove') await this.call(endpoint, '/v3/cluster/member/remove', { ID: action.id });
          else await this.call(endpoint, '/v3/cluster/member/add', { peerURLs: [action.peerUrl] });
          done = true;
          break;
        } catch (error) {
          last = `${endpoint}: ${(error as Error).message}`;
        }
      }
      if (!done) return { ok: false, code: 'RACKBOOT_ERR_ETCD_MEMBERSHIP', message: `etcd ${plan.cluster}: ${action.kind} ${action.name}: ${last}` };
    }
    return { ok: true, value: null };
  }

  /** Every cluster's health now (members, leader, who is missing, cold start), also kept for `latest`. */
  async checkHealth(): Promise<ClusterHealth[]> {
    const out: ClusterHealth[] = [];
    for (const facts of this.provisioner.etcdClusters()) {
      const { plan } = facts;
      // a cluster no member of which ever booted is not probed: its addresses may not exist yet
      const probe = facts.booted || this.formed.formed(plan.cluster);
      const observation: Observation = probe ? await this.observe(plan) : { reachable: false, reason: 'no member has fetched its config yet' };
      if (observation.reachable && observation.clusterId !== '') this.formed.seen(plan.cluster, observation.clusterId, this.now());
      const statuses = new Map<string, { leader: string }>();
      if (observation.reachable) {
        for (const member of observation.members) {
          const endpoint = member.clientUrls[0];
          if (endpoint === undefined) continue;
          try {
            const status = (await this.call(endpoint, '/v3/maintenance/status', {})) as { leader?: string };
            const name = member.name !== '' ? member.name : (plan.members.find((p) => member.peerUrls[0]?.includes(`//${p.ip}:`))?.name ?? `member-${member.id}`);
            statuses.set(name, { leader: String(status.leader ?? '') });
          } catch {
            // a member that does not answer is reported missing
          }
        }
      }
      const health = clusterHealth({ plan, observation, statuses, formedBefore: this.formed.formed(plan.cluster), allMemory: facts.allMemory, now: this.now() });
      const before = this.health.get(plan.cluster);
      if (health.state === 'cold-start' && before?.state !== 'cold-start') {
        for (const machine of facts.members) this.provisioner.noteEtcd(machine, `etcd ${plan.cluster}: ${health.message}`, { etcd: 'cold-start', cluster: plan.cluster });
        this.log('warn', `etcd ${plan.cluster}: ${health.message}`);
      }
      this.health.set(plan.cluster, health);
      out.push(health);
    }
    return out;
  }

  /** The last health of each cluster (empty before the first check). */
  latest(): ClusterHealth[] {
    return [...this.health.values()];
  }

  /** Checks every `intervalMs` (unref'd); stop() ends it. */
  start(intervalMs: number): void {
    if (this.timer) return;
    let running = false;
    this.timer = setInterval(() => {
      if (running) return;
      running = true;
      this.checkHealth()
        .catch((error: Error) => this.log('warn', `etcd health check failed: ${error.message}`))
        .finally(() => (running = false));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return next;
  }
}

function toObserved(raw: RawMember): ObservedMember {
  return { id: String(raw.ID ?? ''), name: raw.name ?? '', peerUrls: raw.peerURLs ?? [], clientUrls: raw.clientURLs ?? [] };
}

function describeActions(decision: Extract<MembershipDecision, { actions: unknown }>): string {
  return decision.actions.map((a) => (a.kind === 'remove' ? `removed member ${a.id}` : `added ${a.peerUrl}`)).join(', ');
}
