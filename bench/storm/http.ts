/**
 * HTTP for one simulated machine: one keep-alive connection from the machine's own address (as
 * iPXE and the booted OS make them), bounded by a timeout, with the body read to the end.
 */
import { Agent, request } from 'node:http';

export interface HttpResult {
  readonly status: number;
  /** The body when asked for; downloads are only counted. */
  readonly text: string;
  readonly bytes: number;
}

export class HttpFailure extends Error {
  override readonly name = 'HttpFailure';
}

export class MachineHttp {
  private agent: Agent;

  constructor(private readonly localAddress: string) {
    this.agent = this.newAgent();
  }

  private newAgent(): Agent {
    return new Agent({ keepAlive: true, maxSockets: 1, localAddress: this.localAddress });
  }

  /** Drops the connection (after a failure, or when the machine "reboots"). */
  reset(): void {
    this.agent.destroy();
    this.agent = this.newAgent();
  }

  close(): void {
    this.agent.destroy();
  }

  send(method: 'GET' | 'POST', url: string, opts: { timeoutMs: number; body?: string; keepBody: boolean }): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
      const req = request(
        url,
        {
          method,
          agent: this.agent,
          headers: body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (opts.keepBody) chunks.push(chunk);
          });
          res.on('end', () => {
            clearTimeout(timer);
            const expected = Number(res.headers['content-length'] ?? NaN);
            if (Number.isFinite(expected) && expected !== bytes) {
              reject(new HttpFailure(`${url}: ${bytes} of ${expected} bytes`));
              return;
            }
            resolve({ status: res.statusCode ?? 0, text: opts.keepBody ? Buffer.concat(chunks).toString('utf8') : '', bytes });
          });
          res.on('error', (err) => {
            clearTimeout(timer);
            reject(new HttpFailure(`${url}: ${err.message}`));
          });
        },
      );
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(new HttpFailure(`${url}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      });
      req.end(body);
    });
  }
}
