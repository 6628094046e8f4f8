// LVM2 volume groups as the main entry's `lvm` namespace.
export { LvmError, type LvmErrorCode } from '../lvm/errors';
export type { DiskArea, ReadAt } from '../lvm/device';
export { readPvLabel, type PhysicalVolumeLabel } from '../lvm/label';
export { readMdaHeader, readMetadataText, type MdaHeader, type MetadataText } from '../lvm/mda';
export {
  parseConfigText, type ConfigList, type ConfigNode, type ConfigScalar, type ConfigSection,
  type ConfigSetting, type ConfigValue, type Position,
} from '../lvm/config-text';
export { volumeGroupFromConfig, volumeGroupFromText, type LogicalVolume, type PhysicalVolume, type VolumeGroup } from '../lvm/model';
export type { Segment, SegmentArea } from '../lvm/segments';
export { scanPhysicalVolume, volumeGroupsFrom, type PhysicalVolumeScan, type VolumeGroupsOptions } from '../lvm/metadata';
export { findVolumeGroup, scanLvm, type LvmScan, type PvDeviceFound } from '../lvm/scan';
export { activationPlan, dmName, dmUuid, lvTable, type Activation, type PvDevice, type TableLine, type TableOptions } from '../lvm/tables';
export {
  activateVolumeGroup, deactivateVolumeGroup,
  recoverActivations, type HalfMadeReport,
  type ActivationReport, type DeactivationReport, type LvMapped, type LvOutcome, type LvmSelection,
} from '../lvm/activate';
export type { VgLockOptions } from '../lvm/lock';
export { listVolumeGroups, type LvListed, type LvmListing, type VgListed } from '../lvm/list';
