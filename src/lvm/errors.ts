/** What went wrong, as a stable string a caller can switch on. */
export type LvmErrorCode =
  | 'TRUNCATED' // the device (or the read callback) ended before a structure did
  | 'LABEL_CRC' | 'LABEL_SECTOR' | 'LABEL_LAYOUT'
  | 'MDA_CRC' | 'MDA_MAGIC' | 'MDA_VERSION' | 'MDA_START' | 'MDA_SIZE' | 'MDA_LOCATION' | 'NO_METADATA'
  | 'TEXT_CHECKSUM'
  | 'PARSE'
  | 'FORMAT' // parsed, but not LVM2 VG metadata of a version we read
  | 'MISSING_FIELD' | 'BAD_VALUE' | 'BAD_UUID' | 'BAD_NAME' | 'DUPLICATE' | 'UNKNOWN_VOLUME'
  | 'SEGMENT_COUNT' | 'GAP' | 'OVERLAP' | 'EXTENTS' | 'STRIPES'
  | 'UNSUPPORTED_SEGMENT' | 'LV_AREA' | 'MISSING_PV' | 'EXPORTED_VG' | 'FOREIGN_VG' | 'SHARED_VG' | 'PAST_END'
  | 'NO_DEVICE' | 'NO_VG' | 'EXISTS' | 'BUSY' // activation: nothing there, a name taken, an LV open
  | 'LOCKED'; // LVM2's lock on the VG stayed taken (another lvm2 command or dmctl)

/**
 * Every refusal of this module. `where` says where in the device or the metadata the fault is
 * (a byte offset, `line:column`, or a path such as `vg0/logical_volumes/lv1/segment2`), so a
 * damaged PV can be inspected by hand.
 */
export class LvmError extends Error {
  /** Always `'LvmError'`. */
  override name = 'LvmError';
  /** What went wrong (see LvmErrorCode). */
  readonly code: LvmErrorCode;
  /** Where in the device or the metadata: a byte offset, `line:column`, or a metadata path. */
  readonly where: string;
  /** The LV an activation refusal is about. */
  readonly lv?: string;
  /** The segment type an activation refusal is about. */
  readonly segmentType?: string;
  /** The message without its `where`. */
  readonly detail: string;

  constructor(code: LvmErrorCode, where: string, message: string, extra: { lv?: string; segmentType?: string } = {}) {
    super(`${where}: ${message}`);
    this.code = code;
    this.where = where;
    this.detail = message;
    if (extra.lv !== undefined) this.lv = extra.lv;
    if (extra.segmentType !== undefined) this.segmentType = extra.segmentType;
  }

  /** The same refusal, placed inside `outer` (the device it was read from). */
  within(outer: string): LvmError {
    const { lv, segmentType } = this;
    return new LvmError(this.code, `${outer} ${this.where}`, this.detail, { ...(lv !== undefined ? { lv } : {}), ...(segmentType !== undefined ? { segmentType } : {}) });
  }
}
