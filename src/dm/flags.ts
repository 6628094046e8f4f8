/** DM_*_FLAG bits of the dm_ioctl flags word (include/uapi/linux/dm-ioctl.h). */
export const DmFlag = {
  READONLY: 1 << 0,
  SUSPEND: 1 << 1,
  PERSISTENT_DEV: 1 << 3,
  STATUS_TABLE: 1 << 4,
  ACTIVE_PRESENT: 1 << 5,
  INACTIVE_PRESENT: 1 << 6,
  BUFFER_FULL: 1 << 8,
  SKIP_LOCKFS: 1 << 10,
  NOFLUSH: 1 << 11,
  QUERY_INACTIVE_TABLE: 1 << 12,
  UEVENT_GENERATED: 1 << 13,
  UUID: 1 << 14,
  SECURE_DATA: 1 << 15,
  DATA_OUT: 1 << 16,
  DEFERRED_REMOVE: 1 << 17,
  INTERNAL_SUSPEND: 1 << 18,
  IMA_MEASUREMENT: 1 << 19,
} as const;

/** The flags word of a reply, as booleans. */
export interface DeviceFlags {
  readOnly: boolean;
  suspended: boolean;
  activePresent: boolean;
  inactivePresent: boolean;
  bufferFull: boolean;
  ueventGenerated: boolean;
  dataOut: boolean;
  /** The device goes away when its last opener closes it. */
  deferredRemove: boolean;
  /** Suspended by the kernel itself (e.g. a thin pool), not by a DEV_SUSPEND. */
  internalSuspend: boolean;
}

/** Decodes the DM_*_FLAG bits of an ioctl reply into named booleans. */
export function decodeFlags(flags: number): DeviceFlags {
  const has = (bit: number): boolean => (flags & bit) !== 0;
  return {
    readOnly: has(DmFlag.READONLY),
    suspended: has(DmFlag.SUSPEND),
    activePresent: has(DmFlag.ACTIVE_PRESENT),
    inactivePresent: has(DmFlag.INACTIVE_PRESENT),
    bufferFull: has(DmFlag.BUFFER_FULL),
    ueventGenerated: has(DmFlag.UEVENT_GENERATED),
    dataOut: has(DmFlag.DATA_OUT),
    deferredRemove: has(DmFlag.DEFERRED_REMOVE),
    internalSuspend: has(DmFlag.INTERNAL_SUSPEND),
  };
}
