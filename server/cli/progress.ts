/**
 * Progress of long work on stderr (stdout stays clean for --json): a bar redrawn in place on a
 * terminal (at most every 100 ms), plain lines elsewhere (logs, CI, pipes): one each time another
 * 10% is done or 5 s have passed, and one at the end. NO_COLOR (or TERM=dumb) drops the colour;
 * TERM=dumb also drops the in-place bar. With --json and a stderr that is not a terminal there is no
 * progress at all, so stderr holds only the JSON error, if any.
 */

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface ProgressOptions {
  readonly stream?: ProgressStream;
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => number;
  /** The command's --json: then a non-terminal stderr gets no progress. */
  readonly json?: boolean;
  /** How `done` and `total` are shown. */
  readonly unit?: 'items' | 'bytes';
}

export interface Progress {
  /** `done` of the total so far; `note` says what is happening (the last BMC, the file). */
  update(done: number, note?: string): void;
  /** The work grew or shrank (a total known only later). */
  setTotal(total: number): void;
  /** A line of its own (a step's log): printed above the bar on a terminal, as is elsewhere. */
  log(line: string): void;
  /** The last line: the summary (or how it failed). */
  finish(summary?: string): void;
}

const TTY_INTERVAL_MS = 100;
const LINE_INTERVAL_MS = 5000;
const LINE_STEP_PERCENT = 10;
const BAR_WIDTH = 24;

const SILENT: Progress = { update: () => undefined, setTotal: () => undefined, log: () => undefined, finish: () => undefined };

export function startProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const dumb = env.TERM === 'dumb';
  const tty = stream.isTTY === true && !dumb;
  if (options.json && !tty) return SILENT;
  const colour = tty && !env.NO_COLOR;
  const started = now();
  let all = Math.max(0, total);
  let done = 0;
  let note = '';
  let lastDraw = -Infinity;
  let lastStep = -1;
  let drawn = false;
  let finished = false;

  const amount = (n: number) => (options.unit === 'bytes' ? bytes(n) : String(n));
  const percent = () => (all === 0 ? 100 : Math.min(100, Math.floor((done / all) * 100)));
  const counts = () => `${amount(done)}/${amount(all)}`;

  const drawBar = () => {
    const filled = Math.round((percent() / 100) * BAR_WIDTH);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
    const shown = colour ? `\x1b[32m${bar.slice(0, filled)}\x1b[0m${bar.slice(filled)}` : bar;
    stream.write(`\r\x1b[K${label} [${shown}] ${String(percent()).padStart(3)}% ${counts()}${note ? ` ${clip(note, 60)}` : ''}`);
    drawn = true;
  };

  return {
    update(value, detail) {
      if (finished) return;
      done = Math.max(0, value);
      if (detail !== undefined) note = oneLine(detail);
      const t = now();
      if (tty) {
        if (t - lastDraw >= TTY_INTERVAL_MS || done >= all) {
          lastDraw = t;
          drawBar();
        }
        return;
      }
      const step = Math.floor(percent() / LINE_STEP_PERCENT);
      if (step > lastStep || t - lastDraw >= LINE_INTERVAL_MS) {
        // the first update of a step prints; the 100% line is left to finish()
        if (percent() >= 100) return;
        lastStep = step;
        lastDraw = t;
        stream.write(`${label}: ${percent()}% (${counts()})${note ? ` ${clip(note, 100)}` : ''}\n`);
      }
    },
    setTotal(value) {
      all = Math.max(0, value);
    },
    log(line) {
      if (tty && drawn && !finished) {
        stream.write(`\r\x1b[K${oneLine(line)}\n`);
        drawBar();
      } else {
        stream.write(`${oneLine(line)}\n`);
      }
    },
    finish(summary) {
      if (finished) return;
      finished = true;
      const seconds = ((now() - started) / 1000).toFixed(1);
      const text = `${label}: ${summary ? oneLine(summary) : `done, ${counts()}`} (${seconds} s)`;
      if (tty) {
        if (drawn) stream.write('\r\x1b[K');
        stream.write(`${text}\n`);
      } else {
        stream.write(`${text}\n`);
      }
    },
  };
}

function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
