/**
 * Install progress from a `progress` callback's message: "42%", "copying 3.5 %", "step 3/7",
 * "3 / 7 partitions". Pure: the dashboard and /metrics read it, nothing else depends on it.
 */
export interface InstallProgress {
  /** 0-100, or null when the message carries no number (the bar is then indeterminate). */
  readonly percent: number | null;
  /** "3/7" when the message counted steps. */
  readonly step: string | null;
  readonly message: string;
  readonly at: number;
}

const PERCENT = /(\d{1,3}(?:\.\d+)?)\s*%/;
const STEP = /(?:^|[^\d.])(\d{1,4})\s*\/\s*(\d{1,4})(?![\d.])/;

export function parseProgress(message: string, at: number): InstallProgress {
  const percent = PERCENT.exec(message);
  if (percent) return { percent: clamp(Number(percent[1])), step: null, message, at };
  const step = STEP.exec(message);
  if (step) {
    const done = Number(step[1]);
    const total = Number(step[2]);
    if (total > 0 && done <= total) return { percent: clamp((done / total) * 100), step: `${done}/${total}`, message, at };
  }
  return { percent: null, step: null, message, at };
}

function clamp(value: number): number {
  return Math.round(Math.min(100, Math.max(0, value)) * 10) / 10;
}
