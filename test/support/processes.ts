/**
 * Processes a test started indirectly (validators under `stele up`), found by their command
 * lines, so a failed test can stop what it would otherwise leave running.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Processes whose command line mentions `text` (validators started by a test). */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
