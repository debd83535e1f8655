/**
 * The gauges every packet path registers the same way, whichever design it is (the pool pipeline,
 * src/node/pipeline.ts, or the sharded one, src/node/shard-host.ts): the UDP socket, the process's CPU and
 * memory, the AQM and the mix loops. Each path adds its own queue and worker gauges beside these.
 */
import type { AqmController } from './aqm.js';
import { kernelUdpDrops } from './incoming.js';
import type { LoopEmitter } from './loops.js';
import type { NodeMetrics } from './metrics.js';
import { mainThreadCpuUs } from './thread-cpu.js';

export interface SocketGaugeSource {
  /** The bound UDP port (read at snapshot time: known only once bound). */
  readonly port: () => number;
  /** pipeline.socketBufferBytes, the size asked of the kernel, bytes. */
  readonly requestedBufferBytes: number;
  /** Effective SO_RCVBUF / SO_SNDBUF as read back from the kernel, bytes. */
  readonly recvBufferBytes: () => number;
  readonly sendBufferBytes: () => number;
  readonly nativeSphinx: boolean;
}

const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

export function registerNodeGauges(
  m: NodeMetrics,
  s: SocketGaugeSource,
  aqm: AqmController,
  loops: LoopEmitter | undefined,
): void {
  m.gauge('aqm_drop_probability', () => Math.round(aqm.probability * 1e6) / 1e6);
  m.gauge('aqm_queue_delay_ms', () => Math.round(aqm.delayMs * 1000) / 1000);
  m.gauge('socket_buffer_requested_bytes', () => s.requestedBufferBytes);
  m.gauge('socket_recv_buffer_bytes', s.recvBufferBytes);
  m.gauge('socket_send_buffer_bytes', s.sendBufferBytes);
  m.gauge('udp_port', s.port);
  // Datagrams the kernel dropped on this port because its receive buffer was full (/proc/net/udp): loss that
  // no drop reason of ours can count.
  m.gauge('udp_kernel_drops', () => kernelUdpDrops(s.port()));
  m.gauge('sphinx_native', () => s.nativeSphinx);
  // The control plane's own cost: main-thread CPU (user + system) since start, µs. A benchmark divides its
  // increase by the packets forwarded meanwhile (docs/benchmarks.md).
  m.gauge('main_thread_cpu_us', mainThreadCpuUs);
  // Memory of the whole process (MB), read at snapshot time: what an operator watches under overload.
  m.gauge('rss_mb', () => mb(process.memoryUsage.rss()));
  m.gauge('heap_used_mb', () => mb(process.memoryUsage().heapUsed));
  m.gauge('array_buffers_mb', () => mb(process.memoryUsage().arrayBuffers));
  if (loops) {
    m.gauge('loop_return_fraction', () => loops.monitor.last.fraction);
    m.gauge('loops_due_in_window', () => loops.monitor.last.due);
    m.gauge('loops_outstanding', () => loops.monitor.outstanding);
    m.gauge('loop_alarm', () => loops.monitor.alarm);
    m.gauge('loop_rate_per_s', () => loops.rate);
  }
}
