-- wrk script: prints one machine-readable line after the run, with exact
-- percentiles from wrk's own latency histogram (the human --latency output
-- rounds and mixes units). bench/run greps the line starting with "RESULT".
-- Fields: completed requests, run duration (µs), bytes read, p50 / p99 /
-- max latency (µs), and error counts (non-2xx/3xx status, socket errors).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d max_us=%d status_errors=%d socket_errors=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
