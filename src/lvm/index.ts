/**
 * LVM2 volumes read straight from the disk, with no lvm2: the PV label, the metadata areas, the
 * text metadata, the VG model and the tables `vgchange -ay` loads for linear and striped LVs (pure
 * functions over a read callback); then the machine's scan and the activation itself (`scan.ts`,
 * `activate.ts`), which read block devices and make dm devices but never write a PV. Every
 * refusal is an `LvmError`.
 */
export { LvmError, type LvmErrorCode } from './errors';
export { INITIAL_CRC, lvmCrc } from './crc';
export type { DiskArea, ReadAt } from './device';
export { readPvLabel, type PhysicalVolumeLabel } from './label';
export { readMdaHeader, readMetadataText, type MdaHeader, type MetadataText } from './mda';
export {
  parseConfigText, unescapeDoubleQuoted, type ConfigList, type ConfigNode, type ConfigScalar, type ConfigSection,
  type ConfigSetting, type ConfigValue, type Position,
} from './config-text';
export { volumeGroupFromConfig, volumeGroupFromText, type LogicalVolume, type PhysicalVolume, type VolumeGroup } from './model';
export type { Segment, SegmentArea } from './segments';
export { checkName, formatId, parseId } from './names';
export { scanPhysicalVolume, volumeGroupsFrom, type PhysicalVolumeScan, type VolumeGroupsOptions } from './metadata';
export { findVolumeGroup, pvDevices, scanLvm, type LvmScan, type PvDeviceFound } from './scan';
export { activationPlan, dmName, dmUuid, lvTable, type Activation, type PvDevice, type TableLine, type TableOptions } from './tables';

export {
  activateVolumeGroup, deactivateVolumeGroup, splitDmName,
  recoverActivations, type HalfMadeReport,
  type ActivationReport, type DeactivationReport, type LvMapped, type LvOutcome, type LvmSelection,
} from './activate';
export type { VgLockOptions } from './lock';
export { listVolumeGroups, type LvListed, type LvmListing, type VgListed } from './list';
