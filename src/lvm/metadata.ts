// From what a device holds to VGs: its label and metadata areas, then the newest copy of each VG.
import type { ReadAt } from './device';
import { LvmError } from './errors';
import { type PhysicalVolumeLabel, readPvLabel } from './label';
import { type MetadataText, readMetadataText } from './mda';
import { type VolumeGroup, volumeGroupFromText } from './model';

/** A PV as found on a device: its label and the committed text of each readable metadata area. */
export interface PhysicalVolumeScan {
  label: PhysicalVolumeLabel;
  metadata: MetadataText[];
  /** Metadata areas that could not be read (bad CRC, bad checksum, ...): the others may still serve. */
  errors: LvmError[];
}

/** Undefined when the device carries no LVM2 label. */
export function scanPhysicalVolume(read: ReadAt): PhysicalVolumeScan | undefined {
  const label = readPvLabel(read);
  if (!label) return undefined;
  const metadata: MetadataText[] = [];
  const errors: LvmError[] = [];
  for (const area of label.metadataAreas) {
    try {
      const m = readMetadataText(read, area);
      if (m) metadata.push(m);
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
      errors.push(e);
    }
  }
  return { label, metadata, errors };
}

/** Options of volumeGroupsFrom(). */
export interface VolumeGroupsOptions {
  /** Called for a copy that does not parse or validate; without it such a copy throws. */
  onError?: (error: LvmError, source: string) => void;
}

/**
 * The VGs the given metadata copies describe, one per VG id: where copies disagree (a PV missed
 * the last update) the highest seqno wins, as in LVM2.
 */
export function volumeGroupsFrom(copies: readonly (string | MetadataText)[], options: VolumeGroupsOptions = {}): VolumeGroup[] {
  const byId = new Map<string, VolumeGroup>();
  copies.forEach((copy, i) => {
    const source = typeof copy === 'string' ? `copy ${i}` : copy.where;
    let vg: VolumeGroup;
    try {
      vg = volumeGroupFromText(typeof copy === 'string' ? copy : copy.text);
    } catch (e) {
      if (!(e instanceof LvmError) || !options.onError) throw e;
      options.onError(e, source);
      return;
    }
    const held = byId.get(vg.id);
    if (!held || vg.seqno > held.seqno) byId.set(vg.id, vg);
  });
  return [...byId.values()];
}
