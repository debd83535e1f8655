/**
 * CLI flags of a `loopix bench relay` smoke run: searches of at most two half-second steps from 300 packets/s,
 * latency slices of 0.3 s, a pool of 2048 packets, a loose loss bound (a busy CI host is no measurement) and
 * no openssl baseline: seconds, not minutes.
 */
export const SHORT_RELAY_FLAGS: readonly string[] = [
  '--step-seconds',
  '0.5',
  '--latency-seconds',
  '0.3',
  '--start-rate',
  '300',
  '--max-steps',
  '2',
  '--max-loss',
  '0.5',
  '--pool',
  '2048',
  '--openssl-seconds',
  '0',
];
