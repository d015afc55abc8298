/** The importer's summary: what was brought over, what was already there, and what not, with why. */
import type { ImportReport } from './importer.js';
import type { Skipped } from './sems-folder.js';

export function formatReport(report: ImportReport, from: string): string {
  const verb = report.dryRun ? 'would import' : 'imported';
  const lines = [
    `SEMS import from ${from}${report.dryRun ? ' (dry run: nothing was written)' : ''}`,
    `  mailboxes: ${report.mailboxes}`,
    `  messages:  ${report.messages.imported} ${verb} (${report.messages.new} new, ${report.messages.saved} saved), ${report.messages.alreadyThere} already there`,
    `  greetings: ${report.greetings.imported} ${verb}, ${report.greetings.alreadyThere} already there`,
    `  skipped:   ${report.skipped.length}${reasons(report.skipped)}`,
    ...listed(report.skipped),
  ];
  if (report.failed.length > 0) {
    lines.push(`  failed:    ${report.failed.length} (storage could not take them now; run again to bring them over)`, ...listed(report.failed));
  }
  return `${lines.join('\n')}\n`;
}

/** " (3 damaged, 1 empty …)": the skips counted by the first words of their reasons. */
function reasons(items: readonly Skipped[]): string {
  if (items.length === 0) return '';
  const counts = new Map<string, number>();
  for (const { reason } of items) {
    const kind = reason.split(/[:(]/)[0]?.trim() ?? reason;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return ` (${[...counts].map(([kind, n]) => `${n} ${kind}`).join(', ')})`;
}

function listed(items: readonly Skipped[]): string[] {
  return items.map(({ name, reason }) => `    ${name}: ${reason}`);
}
