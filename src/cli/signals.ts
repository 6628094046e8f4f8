// Ctrl-C while a verb waits: the first press runs the verb's handler (stop waiting, say what goes
// on), a second one exits at once.
import { Exit } from './exit';

export function onInterrupt(handler: () => void): () => void {
  let pressed = 0;
  const listener = (): void => {
    if (++pressed > 1) process.exit(Exit.INTERRUPTED);
    handler();
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}
