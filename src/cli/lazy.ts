// The library layers a verb needs, loaded when a verb runs rather than when dmctl starts: a
// dmsetup verb does not pay for loading the live operations, loop devices, partitions, LVM and
// records (dmctl's start-up is most of a short verb's time, and tests and scripts run it many
// times).
import type * as Ops from '../ops';
import type * as Loop from '../loop';
import type * as Lvm from '../lvm';
import type * as Parts from '../parts';
import type * as Backup from '../backup';

export const ops = (): typeof Ops => require('../ops') as typeof Ops;
export const parts = (): typeof Parts => require('../parts') as typeof Parts;
export const lvm = (): typeof Lvm => require('../lvm') as typeof Lvm;
export const backup = (): typeof Backup => require('../backup') as typeof Backup;
export const loop = (): typeof Loop => require('../loop') as typeof Loop;
