/** A simulator worker thread (piscina): runs one sweep task and returns its per-repetition values. */
import { runTask, type SimTask, type SimTaskResult } from './tasks.js';

export default function simTask(task: SimTask): SimTaskResult {
  return runTask(task);
}
