/**
 * How much a piece of work raised the process's peak resident memory. The kernel's high-water mark (maxRSS) is
 * exact but covers the whole process life, so it only tells about this work when the work set a new peak; below
 * that, periodic samples of the current RSS (taken whenever the work yields to the event loop) fill in.
 */
const SAMPLE_MS = 100;

export interface MemoryFigures {
  /** The highest resident memory seen during the work, in bytes. */
  peakBytes: number;
  /** How far that peak rose above the resident memory when the work began (≥ 0). */
  deltaBytes: number;
  /** Resident memory when the work ended. */
  endBytes: number;
}

export interface MemoryMeasurement {
  /** Stops sampling and says what the work did to resident memory. */
  stop(): MemoryFigures;
}

export function measureMemory(): MemoryMeasurement {
  const startRss = process.memoryUsage.rss();
  const startMax = maxRssBytes();
  let peak = startRss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, SAMPLE_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const endBytes = process.memoryUsage.rss();
      peak = Math.max(peak, endBytes);
      const max = maxRssBytes();
      if (max > startMax) peak = Math.max(peak, max);
      return { peakBytes: peak, deltaBytes: Math.max(0, peak - startRss), endBytes };
    },
  };
}

function maxRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024; // reported in kilobytes
}
