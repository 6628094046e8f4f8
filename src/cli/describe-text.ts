// describe's human form: one "key: value" line per fact.
import type * as ops from '../ops';

function cowText(c: ops.CowState): string {
  const where = `${c.device} (${c.dev})${c.file ? `, file ${c.file}` : ''}`;
  const s = c.status;
  const fill = s.state === 'active' ? `${(c.percentFull ?? 0).toFixed(1)}% full (${s.allocated}/${s.total} sectors)` : s.state.toUpperCase();
  return `${where}: ${fill}`;
}

export function describeText(d: ops.Description): string {
  const rows: Array<[string, string]> = [['name', d.name], ['state', d.state], ['suspended', d.suspended ? 'yes' : 'no']];
  if (d.origin) rows.push(['origin', d.origin]);
  if (d.base) {
    rows.push(['base', `${d.base.name} (${d.base.path}, ${d.base.dev}${d.base.readOnly ? ', read-only' : ''})`]);
    rows.push(['base table', d.base.table.trimEnd().split('\n').join(' | ')]);
  }
  if (d.cow) rows.push(['cow', cowText(d.cow)]);
  if (d.chunkSectors !== undefined) rows.push(['chunk', `${d.chunkSectors} sectors, store ${d.persistent}`]);
  if (d.merge) rows.push(['merge', d.merge.failed ? 'FAILED' : d.merge.complete ? 'complete (run dmctl merge to finish)' : 'in progress']);
  for (const s of d.snapshots ?? []) rows.push(['snapshot', `${s.name}: ${cowText(s.cow)}`]);
  if (d.migration) {
    const m = d.migration;
    const pct = m.totalRegions > 0n ? `${((100 * Number(m.inSyncRegions)) / Number(m.totalRegions)).toFixed(1)}%` : 'starting';
    rows.push(['migration', `through ${m.mirror}: ${pct} in sync (${m.inSyncRegions}/${m.totalRegions} regions), health ${m.health || '-'}`]);
  }
  if (d.leftoverBase) rows.push(['leftover', `${d.leftoverBase} (left by an interrupted operation)`]);
  const w = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(w)} ${v}`).join('\n') + '\n';
}
