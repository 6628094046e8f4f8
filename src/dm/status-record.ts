// Reads the reply of native.dmStatus from the record the addon writes it into (layout: see
// native/dm_status.cc). Names and uuids repeat from call to call, so the last string decoded from
// each field is kept and reused while its bytes are unchanged.
import { native } from '../native';
import { decodeFlags } from './flags';
import type { DeviceInfo } from './info';

const enum Word {
  Flags,
  Major,
  Minor,
  OpenCount,
  EventNr,
  TargetCount,
  NameLen,
  UuidLen,
}
const NAME_AT = 64;
const UUID_AT = NAME_AT + 128;

const words = new Uint32Array(native.dmStatusRecord, 0, 8);
const signed = new Int32Array(native.dmStatusRecord, 0, 8);
const bytes = new Uint8Array(native.dmStatusRecord);

class FieldString {
  private last = '';
  private lastBytes = new Uint8Array(0);

  constructor(private readonly at: number) {}

  read(len: number): string {
    const prev = this.lastBytes;
    if (prev.length === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (prev[i] !== bytes[this.at + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.last;
    }
    this.lastBytes = bytes.slice(this.at, this.at + len);
    this.last = Buffer.from(this.lastBytes.buffer, 0, len).toString('utf8');
    return this.last;
  }
}

const nameField = new FieldString(NAME_AT);
const uuidField = new FieldString(UUID_AT);

/** The DEV_STATUS reply of the last dmStatus call on this thread. */
export function readStatusRecord(): DeviceInfo {
  return {
    name: nameField.read(words[Word.NameLen]),
    uuid: uuidField.read(words[Word.UuidLen]),
    major: words[Word.Major],
    minor: words[Word.Minor],
    openCount: signed[Word.OpenCount],
    eventNr: words[Word.EventNr],
    targetCount: words[Word.TargetCount],
    flags: decodeFlags(words[Word.Flags]),
  };
}
