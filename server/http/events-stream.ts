/**
 * Live events. One EventFeed per app polls the events table for new rows (so events written by
 * other processes, such as `rackboot assign` or `rackboot power`, show up too) and hands them to
 * subscribers: the Server-Sent Events stream of the dashboard and the /metrics counters.
 *
 * GET /api/v1/events/stream: `id:` is the event id, so a reconnecting EventSource resumes with
 * Last-Event-ID and misses nothing; `?after=<id>` does the same for the first connection.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InventoryReader } from '../core/ports.js';
import type { MachineEvent } from '../core/types.js';
import { errorBody, httpStatus } from '../errors.js';
import { eventStreamSchema } from './api-model.js';

export type FeedListener = (events: readonly MachineEvent[]) => void;

const PAGE = 1000;

export class EventFeed {
  private lastId = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<FeedListener>();

  constructor(
    private readonly inventory: InventoryReader,
    private readonly latestEventId: () => number,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The newest event id the feed has handed out. */
  get position(): number {
    return this.lastId;
  }

  start(): void {
    if (this.timer) return;
    this.lastId = this.latestEventId();
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads what is new and tells every subscriber; also called directly by tests. */
  poll(): void {
    try {
      for (;;) {
        const events = this.inventory.listEvents({ afterId: this.lastId, limit: PAGE });
        const last = events.at(-1);
        if (!last) return;
        this.lastId = last.id;
        for (const listener of this.listeners) {
          try {
            listener(events);
          } catch (error) {
            this.onError(error);
          }
        }
        if (events.length < PAGE) return;
      }
    } catch (error) {
      this.onError(error);
    }
  }
}

export interface EventStreamLimits {
  /** Open streams in total; one more is answered 503 with Retry-After. */
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  /** Replays longer than this send `event: reset` instead: the client pages through /api/v1/events or reloads. */
  readonly maxReplay: number;
  /** A client that leaves more than this unread when new events come is disconnected. */
  readonly maxBufferedBytes: number;
}

export const DEFAULT_EVENT_STREAM_LIMITS: EventStreamLimits = {
  maxConnections: 64,
  maxConnectionsPerClient: 8,
  maxReplay: 1000,
  maxBufferedBytes: 1024 * 1024,
};

/** Counters for /metrics. */
export interface EventStreamStats {
  open: number;
  accepted: number;
  refusedTotal: number;
  refusedPerClient: number;
  /** Disconnected because they did not read (maxBufferedBytes). */
  droppedSlow: number;
  /** Resumes that asked for more than maxReplay events. */
  replayResets: number;
}

export function newEventStreamStats(): EventStreamStats {
  return { open: 0, accepted: 0, refusedTotal: 0, refusedPerClient: 0, droppedSlow: 0, replayResets: 0 };
}

export interface EventStreamOptions {
  readonly feed: EventFeed;
  readonly inventory: InventoryReader;
  /** The payload sent with an event: the event and the machine it is about (as the API shows it). */
  readonly message: (event: MachineEvent, cache: Map<number, unknown>) => unknown;
  readonly heartbeatMs?: number;
  readonly limits?: Partial<EventStreamLimits>;
  readonly stats?: EventStreamStats;
}

const RETRY_AFTER_SECONDS = 10;

export async function eventStreamRoutes(app: FastifyInstance, options: EventStreamOptions): Promise<void> {
  const { feed, inventory } = options;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const limits: EventStreamLimits = { ...DEFAULT_EVENT_STREAM_LIMITS, ...options.limits };
  const stats = options.stats ?? newEventStreamStats();
  const open = new Set<FastifyReply>();
  const perClient = new Map<string, number>();

  // End the streams before the server closes, or close() would wait for them forever.
  app.addHook('preClose', (done) => {
    for (const reply of open) reply.raw.end();
    open.clear();
    done();
  });

  app.get<{ Querystring: { after?: number }; Headers: { 'last-event-id'?: string } }>(
    '/events/stream',
    { schema: eventStreamSchema },
    (request: FastifyRequest<{ Querystring: { after?: number }; Headers: { 'last-event-id'?: string } }>, reply: FastifyReply) => {
      const client = request.ip;
      const held = perClient.get(client) ?? 0;
      if (open.size >= limits.maxConnections || held >= limits.maxConnectionsPerClient) {
        const overall = open.size >= limits.maxConnections;
        if (overall) stats.refusedTotal += 1;
        else stats.refusedPerClient += 1;
        const why = overall ? `${limits.maxConnections} event streams are open` : `this address holds ${held} event streams`;
        return reply
          .code(httpStatus('RACKBOOT_ERR_BUSY'))
          .header('retry-after', String(RETRY_AFTER_SECONDS))
          .send(errorBody('RACKBOOT_ERR_BUSY', `${why}; retry later`));
      }
      const header = request.headers['last-event-id'];
      const resumeFrom = header !== undefined && header !== '' ? Number(header) : request.query.after;
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write('retry: 2000\n\n');
      open.add(reply);
      perClient.set(client, held + 1);
      stats.accepted += 1;
      stats.open += 1;

      /** Writes unless the client left too much unread: then it is dropped (it reconnects with Last-Event-ID). */
      const send = (chunk: string) => {
        if (raw.destroyed) return;
        if (raw.writableLength > 0 && raw.writableLength + Buffer.byteLength(chunk) > limits.maxBufferedBytes) {
          stats.droppedSlow += 1;
          raw.destroy();
          return;
        }
        raw.write(chunk);
      };

      let sent = feed.position;
      // the replay is bounded by maxReplay and written whatever is buffered; live batches go through send()
      const write = (events: readonly MachineEvent[], replay = false) => {
        const cache = new Map<number, unknown>();
        let chunk = '';
        for (const event of events) {
          if (event.id <= sent) continue;
          chunk += `id: ${event.id}\nevent: event\ndata: ${JSON.stringify(options.message(event, cache))}\n\n`;
          sent = event.id;
        }
        if (chunk === '') return;
        if (replay) raw.write(chunk);
        else send(chunk);
      };

      if (resumeFrom !== undefined && Number.isSafeInteger(resumeFrom) && resumeFrom >= 0) {
        // Replay from the store up to now; the feed's later deliveries skip what was sent.
        const backlog = inventory.listEvents({ afterId: resumeFrom, limit: limits.maxReplay + 1 });
        if (backlog.length > limits.maxReplay) {
          stats.replayResets += 1;
          sent = Math.max(feed.position, backlog.at(-1)?.id ?? 0);
          const reset = {
            reason: `more than ${limits.maxReplay} events to replay: reload, or page through /api/v1/events from ${resumeFrom}`,
            page: `/api/v1/events?after=${resumeFrom}`,
            resumeAt: sent,
          };
          send(`id: ${sent}\nevent: reset\ndata: ${JSON.stringify(reset)}\n\n`);
        } else {
          sent = resumeFrom;
          write(backlog, true);
        }
      }

      const unsubscribe = feed.subscribe((events) => write(events));
      const heartbeat = setInterval(() => send(': keep-alive\n\n'), heartbeatMs);
      heartbeat.unref();
      let cleaned = false;
      const cleanUp = () => {
        if (cleaned) return;
        cleaned = true;
        unsubscribe();
        clearInterval(heartbeat);
        open.delete(reply);
        stats.open -= 1;
        const left = (perClient.get(client) ?? 1) - 1;
        if (left <= 0) perClient.delete(client);
        else perClient.set(client, left);
      };
      raw.once('close', cleanUp);
      raw.once('error', cleanUp);
    },
  );
}
