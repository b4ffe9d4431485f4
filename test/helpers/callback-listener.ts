/**
 * A tiny HTTP listener a QEMU test runs inside its namespace (`lab.spawn(node, [--import, tsx,
 * this file, ADDRESS, PORT])`): every request is printed on one line as
 *   callback <METHOD> <PATH> <BODY as JSON string>
 * and answered 200. Bodies over 4 KiB are cut; at most 100 requests are printed, then it answers 429.
 */
import { createServer } from 'node:http';

const [address = '127.0.0.1', portText = '8081'] = process.argv.slice(2);
const MAX_BODY = 4096;
const MAX_REQUESTS = 100;
let seen = 0;

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    if (body.length < MAX_BODY) body += chunk.slice(0, MAX_BODY - body.length);
  });
  req.on('end', () => {
    if (++seen > MAX_REQUESTS) {
      res.writeHead(429).end();
      return;
    }
    process.stdout.write(`callback ${req.method ?? '?'} ${req.url ?? '?'} ${JSON.stringify(body)}\n`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  });
});
server.requestTimeout = 10_000;
server.listen(Number(portText), address, () => process.stdout.write(`listening on ${address}:${portText}\n`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
