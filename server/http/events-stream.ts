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

export interface EventStreamOptions {
  readonly feed: EventFeed;
  readonly inventory: InventoryReader;
  /** The payload sent with an event: the event and the machine it is about (as the API shows it). */
  readonly message: (event: MachineEvent, cache: Map<number, unknown>) => unknown;
  readonly heartbeatMs?: number;
  /** Replays longer than this send `event: reset` instead: the client reloads its snapshot. */
  readonly maxReplay?: number;
}

export async function eventStreamRoutes(app: FastifyInstance, options: EventStreamOptions): Promise<void> {
  const { feed, inventory } = options;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxReplay = options.maxReplay ?? 2000;
  const open = new Set<FastifyReply>();

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

      let sent = feed.position;
      const write = (events: readonly MachineEvent[]) => {
        const cache = new Map<number, unknown>();
        let chunk = '';
        for (const event of events) {
          if (event.id <= sent) continue;
          chunk += `id: ${event.id}\nevent: event\ndata: ${JSON.stringify(options.message(event, cache))}\n\n`;
          sent = event.id;
        }
        if (chunk !== '') raw.write(chunk);
      };

      if (resumeFrom !== undefined && Number.isSafeInteger(resumeFrom) && resumeFrom >= 0) {
        // Replay from the store up to now; the feed's later deliveries skip what was sent.
        const backlog = inventory.listEvents({ afterId: resumeFrom, limit: maxReplay + 1 });
        if (backlog.length > maxReplay) {
          sent = Math.max(feed.position, backlog.at(-1)?.id ?? 0);
          raw.write(`id: ${sent}\nevent: reset\ndata: {"reason":"more than ${maxReplay} events to replay: reload"}\n\n`);
        } else {
          sent = resumeFrom;
          write(backlog);
        }
      }

      const unsubscribe = feed.subscribe(write);
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), heartbeatMs);
      heartbeat.unref();
      const cleanUp = () => {
        unsubscribe();
        clearInterval(heartbeat);
        open.delete(reply);
      };
      raw.once('close', cleanUp);
      raw.once('error', cleanUp);
    },
  );
}
