/** A loop device's logical block size in bytes. */
export type BlockSize = 512 | 1024 | 2048 | 4096;

/** Options of attach(). */
export interface AttachOptions {
  /** Bytes, a multiple of 512. The file is created sparse at this size if missing, and extended
   *  (never truncated: that would destroy data) if shorter. */
  size?: bigint | number;
  readOnly?: boolean;
  /** The device detaches itself when its last opener closes it. attach() keeps one descriptor
   *  open so that this does not happen at once; see LoopDevice.release. */
  autoclear?: boolean;
  /** Let the kernel scan the device for partitions (loopNpM). */
  partscan?: boolean;
  /** Bypass the page cache of the backing file (O_DIRECT). */
  directIo?: boolean;
  /** Logical block size of the device. */
  blockSize?: BlockSize;
  /** Bytes into the backing file where the device starts; a multiple of 512. */
  offset?: bigint | number;
  /** Bytes of the backing file the device covers (0 or absent: to its end); a multiple of 512. */
  sizeLimit?: bigint | number;
}

/** A loop device attach() bound. */
export interface LoopDevice {
  /** e.g. /dev/loop3 */
  path: string;
  number: number;
  major: number;
  minor: number;
  /** Absolute path of the backing file. */
  file: string;
  /** Only for autoclear devices: drops the descriptor attach() kept open. Once nothing else holds
   *  the device (a mount, a device-mapper table, an open file), it detaches itself. */
  release?: () => Promise<void>;
}

/** A bound loop device as the kernel reports it. */
export interface LoopDeviceInfo extends Omit<LoopDevice, 'release'> {
  /** The backing file has been unlinked since it was attached. */
  deleted: boolean;
  offset: bigint;
  sizeLimit: bigint;
  readOnly: boolean;
  autoclear: boolean;
  partscan: boolean;
  directIo: boolean;
  blockSize: number;
  /** Device number (dev_t) and inode of the backing file, comparable with fs.stat(..., { bigint: true }). */
  backingDevice: bigint;
  backingInode: bigint;
}
