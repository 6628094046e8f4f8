// The error a call throws, checked to be of the expected class (tests then look at its fields).
import { expect } from 'vitest';

export function thrown<E extends Error>(f: () => unknown, cls: new (...args: never[]) => E): E {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(cls);
    return e as E;
  }
  throw new Error(`expected a ${cls.name}`);
}
