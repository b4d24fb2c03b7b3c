/**
 * How much a piece of work raised the process's peak resident memory. The kernel's high-water mark (maxRSS) is
 * exact but covers the whole process life, so it only tells about this work when the work set a new peak; below
 * that, periodic samples of the current RSS (taken whenever the work yields to the event loop) fill in.
 */
const SAMPLE_MS = 20;

export interface MemoryMeasurement {
  /** Stops sampling; returns the peak RSS reached during the work minus the RSS when it began, in bytes (≥ 0). */
  stop(): number;
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
      peak = Math.max(peak, process.memoryUsage.rss());
      const max = maxRssBytes();
      if (max > startMax) peak = Math.max(peak, max);
      return Math.max(0, peak - startRss);
    },
  };
}

function maxRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024; // reported in kilobytes
}
