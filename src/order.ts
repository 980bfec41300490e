/**
 * Text order for names (topics, channels, addresses, containers): by UTF-16 code unit, the same on every machine
 * and locale, and cheap: `localeCompare` loads ICU's collator on first use (~10 ms of a CLI's start) and costs
 * far more per comparison when thousands of partitions are sorted.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
