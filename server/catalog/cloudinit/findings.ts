/** A finding, and the rule order findings on one line are sorted by. */

export interface Finding {
  readonly kind: 'error' | 'warning';
  readonly line: number;
  readonly message: string;
}

/** Where a finding comes from; findings on one line are ordered by this (§1.4 rule order). */
export const Rank = {
  Yaml: 0,
  DiscoveryUrl: 1,
  Encoding: 2,
  Structure: 3,
  Validity: 4,
  WriteFiles: 5,
  WriteFilesUnderCoreos: 6,
  Rackboot: 7,
} as const;
export type Rank = (typeof Rank)[keyof typeof Rank];

export interface RankedFinding extends Finding {
  readonly rank: Rank;
}

export class Report {
  readonly entries: RankedFinding[] = [];

  error(line: number, message: string, rank: Rank): void {
    this.entries.push({ kind: 'error', line, message, rank });
  }

  warning(line: number, message: string, rank: Rank): void {
    this.entries.push({ kind: 'warning', line, message, rank });
  }
}
