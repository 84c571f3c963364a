/**
 * Memory figures, each by the method that load does not disturb:
 *
 * - `allocatedBytesPerOp`: bytes allocated on the V8 heap per operation, garbage included. Node 20
 *   has no allocation counter (`getHeapStatistics().total_allocated_bytes` does not exist there), so
 *   this counts it: used heap after − used heap before + what every collection in between freed,
 *   read from `v8.GCProfiler` (before/after heap statistics of each GC). Checked against known
 *   allocations (an array of 100 numbers: 848 bytes expected, 850 counted). Off-heap memory
 *   (Buffers, native) is not counted.
 * - `heapCheckpoints` + `heapGrowthPerOp`: the heap after a full GC every so many operations, and
 *   the least-squares slope of those checkpoints after the first (the first chunk fills bounded
 *   caches and rings); flat is a slope near 0 bytes per operation, a leak is its size per operation.
 * - `retainedBytesPerObject`: heap after a full GC with K objects alive, at two sizes K; the slope
 *   (bytes per object) cancels fixed costs (modules, caches).
 * The last two need `node --expose-gc` (as `npm run bench` runs); without it they return NaN, which
 * a target reports as not met.
 */
import { GCProfiler, getHeapStatistics } from "node:v8";

type Collect = () => void;

/** The exposed collector, if node runs with --expose-gc. */
export function exposedGc(): Collect | undefined {
  return (globalThis as { gc?: Collect }).gc;
}

interface GcStatistic {
  beforeGC: { heapStatistics: { usedHeapSize: number } };
  afterGC: { heapStatistics: { usedHeapSize: number } };
}

/** Bytes allocated per operation while `run` performs `ops` operations (after one untimed warm-up call). */
export async function allocatedBytesPerOp(
  ops: number,
  run: () => Promise<void> | void,
  options: { warmup?: boolean } = {},
): Promise<number> {
  if (options.warmup !== false) await run();
  exposedGc()?.();
  const profiler = new GCProfiler();
  profiler.start();
  const usedBefore = getHeapStatistics().used_heap_size;
  await run();
  const usedAfter = getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop() as unknown as { statistics: GcStatistic[] };
  let freed = 0;
  for (const gc of statistics)
    freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
  return (usedAfter - usedBefore + freed) / ops;
}

/** Heap used after a full collection (twice, after a macrotask, so finalizers and timers settle). */
export async function settledHeapBytes(): Promise<number> {
  const gc = exposedGc();
  if (!gc) return Number.NaN;
  await new Promise((resolve) => setTimeout(resolve, 10));
  gc();
  gc();
  return getHeapStatistics().used_heap_size;
}

export interface HeapCheckpoint {
  opsDone: number;
  heapBytes: number;
}

/** Runs `chunks` chunks of `opsPerChunk` operations, recording the settled heap after each. */
export async function heapCheckpoints(
  chunks: number,
  opsPerChunk: number,
  runChunk: (ops: number) => Promise<void>,
): Promise<HeapCheckpoint[]> {
  const points: HeapCheckpoint[] = [];
  for (let chunk = 1; chunk <= chunks; chunk++) {
    await runChunk(opsPerChunk);
    points.push({ opsDone: chunk * opsPerChunk, heapBytes: await settledHeapBytes() });
  }
  return points;
}

/** Least-squares slope (bytes per operation) of the checkpoints after the first; NaN with fewer than 3. */
export function heapGrowthPerOp(points: readonly HeapCheckpoint[]): number {
  const steady = points.slice(1);
  if (steady.length < 2) return Number.NaN;
  const meanX = steady.reduce((sum, point) => sum + point.opsDone, 0) / steady.length;
  const meanY = steady.reduce((sum, point) => sum + point.heapBytes, 0) / steady.length;
  let numerator = 0;
  let denominator = 0;
  for (const point of steady) {
    numerator += (point.opsDone - meanX) * (point.heapBytes - meanY);
    denominator += (point.opsDone - meanX) ** 2;
  }
  return numerator / denominator;
}

/**
 * Bytes retained per object: `build(count)` creates `count` objects and returns a release function;
 * the heap is read while they are alive, at `small` and `large` counts, each in a fresh build.
 */
export async function retainedBytesPerObject(
  small: number,
  large: number,
  build: (count: number) => Promise<() => Promise<void> | void>,
): Promise<number> {
  const heapWith = async (count: number) => {
    const release = await build(count);
    const heapBytes = await settledHeapBytes();
    await release();
    return heapBytes;
  };
  const smallHeap = await heapWith(small);
  const largeHeap = await heapWith(large);
  return (largeHeap - smallHeap) / (large - small);
}
