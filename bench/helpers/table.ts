export interface Column {
  header: string;
  align?: 'left' | 'right';
}

/** A section title spanning the table, or a row of cells aligned with the columns. */
export type TableLine = { section: string } | string[];

/** Plain-text table: fits a terminal, a CI log and a Markdown code block alike. */
export function renderTable(columns: readonly Column[], lines: readonly TableLine[]): string {
  const widths = columns.map((column) => column.header.length);
  for (const line of lines) {
    if (Array.isArray(line)) line.forEach((cell, i) => (widths[i] = Math.max(widths[i], cell.length)));
  }
  const format = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (columns[i].align === 'left' ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const total = widths.reduce((sum, width) => sum + width, 0) + 2 * (widths.length - 1);
  const rule = '-'.repeat(total);
  const out = [format(columns.map((column) => column.header)), rule];
  for (const line of lines) {
    if (Array.isArray(line)) out.push(format(line));
    else out.push(`${out.length > 2 ? `${rule}\n` : ''}[${line.section}]`);
  }
  return out.join('\n');
}

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const fmt = {
  us: (value: number | undefined): string =>
    value === undefined ? '' : value < 10 ? value.toFixed(2) : value.toFixed(1),
  count: (value: number | undefined): string => (value === undefined ? '' : grouped.format(value)),
  ratio: (value: number | undefined): string =>
    value === undefined || !Number.isFinite(value) ? '' : `${value.toFixed(2)}x`,
};
