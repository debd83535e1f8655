/**
 * Loop reports (AnonPoP §5.2): "my loops over my link to X come back too rarely", signed by the reporting
 * node with its identity key. An authority checks that the reporter is registered, that the link starts at
 * the reporter, that the evidence passes the one-sided test of the document's parameters
 * (src/directory/evidence.ts), and that it was filed in the authority's current epoch.
 */
import { LoopixError } from '../errors.js';
import { isReportable } from './evidence.js';
import { nodeIdFor, signObject, verifyObject, type IdentityKey } from './identity.js';
import { SignedReportSchema, type IsolationParams, type ReportBody, type SignedReport } from './schemas.js';

export function signReport(body: ReportBody, key: IdentityKey): SignedReport {
  return { body, signature: signObject('report', body, key) };
}

export interface ReportRules {
  readonly registered: ReadonlyMap<string, string>;
  readonly addressBytes: number;
  readonly isolation: IsolationParams;
  /** Node ids the authority knows (registered nodes). */
  readonly knownIds: ReadonlySet<string>;
  /** Epochs accepted for the report's `epoch` field. */
  readonly epochs: { readonly min: number; readonly max: number };
}

export function checkReport(input: unknown, rules: ReportRules): SignedReport {
  const parsed = SignedReportSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = `report.${issue.path.join('.')}`;
    throw new LoopixError('ERR_LOOPIX_DIRECTORY_MALFORMED', `${field}: ${issue.message}`, { field });
  }
  const r = parsed.data;
  const b = r.body;
  if (!rules.registered.has(b.reporterKey)) {
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_UNKNOWN_NODE',
      `report.body.reporterKey: ${b.reporterKey} is not registered with this authority`,
      { field: 'report.body.reporterKey' },
    );
  }
  if (!verifyObject('report', b, r.signature, b.reporterKey)) {
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_SIGNATURE',
      'report.signature: does not verify under report.body.reporterKey',
      { field: 'report.signature' },
    );
  }
  if (b.link.from !== nodeIdFor(b.reporterKey, rules.addressBytes)) {
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_NODE_ID',
      'report.body.link.from: a node reports only its own links (from must be its id)',
      { field: 'report.body.link.from' },
    );
  }
  if (!rules.knownIds.has(b.link.to) || b.link.to === b.link.from) {
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_UNKNOWN_NODE',
      `report.body.link.to: ${b.link.to} is not another registered node`,
      { field: 'report.body.link.to' },
    );
  }
  if (b.epoch < rules.epochs.min || b.epoch > rules.epochs.max) {
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_EPOCH',
      `report.body.epoch: ${b.epoch} is outside ${rules.epochs.min}..${rules.epochs.max}`,
      { field: 'report.body.epoch' },
    );
  }
  if (b.returned > b.due || !isReportable(b.due, b.returned, rules.isolation)) {
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_EVIDENCE',
      `report.body: ${b.returned} of ${b.due} loops returned does not reject return fraction ≥ ${rules.isolation.expectedFraction} at α = ${rules.isolation.alpha} (at least ${rules.isolation.minDue} due loops)`,
      { field: 'report.body' },
    );
  }
  return r;
}
