import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Jest workers do not start with --expose-gc; the flag can still be set at run time, and a fresh
// context then sees the `gc` function.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after a full collection, in bytes: what is still reachable. */
export async function liveHeapBytes(): Promise<number> {
  // Twice, with a turn in between: finalizers and weak callbacks of the first pass run before the second.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return process.memoryUsage().heapUsed;
}
