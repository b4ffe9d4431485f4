/**
 * The Dockerfile (no container engine runs here, so it is checked, not built): every COPY source exists
 * and is not excluded by .dockerignore, the build stage has every file the npm package ships, the image
 * runs the packaged CLI, and docs/container.md gives the host-networking recipe.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../server/config/config.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };
const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
const stages = instructions.reduce<string[][]>((all, line) => (line.startsWith('FROM ') ? [...all, [line]] : (all.at(-1)?.push(line), all)), []);

test('every COPY source exists and is sent in the build context', () => {
  const sources = instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from=')).flatMap((l) => l.split(/\s+/).slice(1, -1));
  assert.ok(sources.length >= 5);
  for (const source of sources) {
    assert.ok(existsSync(join(ROOT, source)), `${source} exists`);
    assert.ok(!ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)), `${source} is not in .dockerignore`);
  }
});

test('the build stage copies everything the npm package ships, packs it and installs the tarball', () => {
  const build = (stages[0] ?? []).join('\n');
  const copied = (stages[0] ?? []).filter((l) => l.startsWith('COPY ')).flatMap((l) => l.split(/\s+/).slice(1, -1));
  for (const entry of pkg.files.filter((f) => !f.startsWith('!') && !f.startsWith('dist/'))) {
    const top = entry.split('/')[0] as string;
    assert.ok(copied.includes(entry) || copied.includes(top), `the build stage copies ${entry}`);
  }
  assert.match(build, /npm run build/);
  assert.match(build, /npm pack/);
  assert.match(build, /npm install --global --prefix \/opt\/rackboot --omit=dev \/tmp\/rackboot-\*\.tgz/);
});

test('the image runs the packaged CLI (serve by default) with volumes for the database and the assets', () => {
  const runtime = (stages.at(-1) ?? []).join('\n');
  assert.equal(stages.length, 2);
  assert.match(runtime, /COPY --from=build \/opt\/rackboot\/lib\/node_modules\/rackboot \/opt\/rackboot/);
  assert.ok(runtime.includes(`ENTRYPOINT ["node", "/opt/rackboot/${pkg.bin.rackboot}"]`));
  assert.match(runtime, /CMD \["serve"\]/);
  assert.match(runtime, /VOLUME \["\/var\/lib\/rackboot", "\/srv\/rackboot\/assets"\]/);
});

test('docs/container.md gives host networking, the capabilities and the volumes, and says the image is not built in CI', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'container.md'), 'utf8');
  assert.match(doc, /--network host/);
  assert.match(doc, /--cap-add NET_BIND_SERVICE/);
  assert.match(doc, /--cap-add NET_RAW/);
  assert.match(doc, /-v [^\s]+:\/var\/lib\/rackboot/);
  assert.match(doc, /-v [^\s]+:\/srv\/rackboot\/assets/);
  assert.match(doc, /not built by the tests/);
});

test("docs/container.md's configuration is valid", () => {
  const doc = readFileSync(join(ROOT, 'docs', 'container.md'), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(yaml);
  const result = parseConfig(yaml, 'docs/container.md', '/');
  assert.deepEqual(result.errors, []);
  assert.equal(result.config?.tftp.root, '/usr/lib/ipxe');
});
