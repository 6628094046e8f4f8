// `ls --tree`: every dm device over the devices its table uses, like dmsetup's tree.
import fs from 'node:fs';
import path from 'node:path';
import * as dm from '../dm';
import { formatDevNum } from '../table';

export interface TreeNode {
  /** The dm device's name, or the kernel's name of another block device (e.g. loop0); null if unknown. */
  name: string | null;
  major: number;
  minor: number;
  /** True for device-mapper devices. */
  dm: boolean;
  /** The devices this one's live table uses. */
  children: TreeNode[];
}

function kernelName(major: number, minor: number): string | null {
  try {
    return path.basename(fs.readlinkSync(`/sys/dev/block/${major}:${minor}`));
  } catch {
    return null;
  }
}

export async function tree(): Promise<TreeNode[]> {
  const devices = await dm.listDevices();
  const byNum = new Map(devices.map((d) => [formatDevNum(d), d]));
  const deps = new Map<string, Array<{ major: number; minor: number }>>();
  for (const d of devices) deps.set(d.name, await dm.deps(d.name).catch(() => []));
  const used = new Set<string>();
  for (const list of deps.values()) for (const x of list) used.add(formatDevNum(x));

  const build = (major: number, minor: number, seen: Set<string>): TreeNode => {
    const key = formatDevNum({ major, minor });
    const d = byNum.get(key);
    if (!d || seen.has(key)) return { name: d?.name ?? kernelName(major, minor), major, minor, dm: !!d, children: [] };
    const next = new Set(seen).add(key);
    return { name: d.name, major, minor, dm: true, children: (deps.get(d.name) ?? []).map((x) => build(x.major, x.minor, next)) };
  };
  return devices.filter((d) => !used.has(formatDevNum(d))).map((d) => build(d.major, d.minor, new Set()));
}

export function renderTree(roots: TreeNode[]): string {
  const out: string[] = [];
  const label = (n: TreeNode): string => (n.dm ? `${n.name} (${n.major}:${n.minor})` : `(${n.major}:${n.minor})`);
  const walk = (n: TreeNode, prefix: string): void => {
    n.children.forEach((c, i) => {
      const last = i === n.children.length - 1;
      out.push(`${prefix}${last ? ' └─' : ' ├─'}${label(c)}`);
      walk(c, prefix + (last ? '   ' : ' │ '));
    });
  };
  for (const r of roots) {
    out.push(label(r));
    walk(r, '');
  }
  return `${out.join('\n')}\n`;
}
