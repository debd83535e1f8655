/**
 * Directory-authority tooling for a network spread over several hosts: make the authority's Ed25519 key,
 * sign a topology body (every node's id, role, layer, addresses and public key), verify a signed document.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { errorLine } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';
import { generateAuthorityKey, loadTopologyFile, signTopology, type AuthorityKey } from '../topology/document.js';
import type { TopologyBody } from '../topology/types.js';

function readJson(file: string, what: string): unknown {
  return readJsonFile(file, { label: what, area: 'CLI_INPUT' });
}

function fail(err: unknown): never {
  process.stderr.write(`loopix: ${errorLine(err)}\n`);
  process.exit(2);
}

export function registerTopologyCommands(program: Command): void {
  const authority = program.command('authority').description('the directory authority’s Ed25519 signing key');
  authority
    .command('keygen')
    .description('generate the authority key pair (JSON, hex); keep the private half offline')
    .requiredOption('--out <file>', 'where to write the key pair (mode 0600, never overwritten)')
    .action((o: { out: string }) => {
      try {
        const key = generateAuthorityKey();
        writeFileSync(o.out, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
        process.stdout.write(`${JSON.stringify({ authorityPublicKey: key.publicKey, file: o.out })}\n`);
      } catch (err) {
        fail(err);
      }
    });

  const topology = program.command('topology').description('signed topology documents');
  topology
    .command('sign')
    .description('sign a topology body (version, epoch, issuedAt, geometry, layers, nodes) with the authority key')
    .requiredOption('--authority <file>', 'authority key pair from `loopix authority keygen`')
    .requiredOption('--in <file>', 'unsigned topology body (JSON)')
    .requiredOption('--out <file>', 'signed topology to write')
    .action((o: { authority: string; in: string; out: string }) => {
      try {
        const key = readJson(o.authority, 'authority key') as AuthorityKey;
        const signed = signTopology(readJson(o.in, 'topology body') as TopologyBody, key);
        writeFileSync(o.out, `${JSON.stringify(signed, null, 2)}\n`);
        process.stdout.write(`${JSON.stringify({ nodes: signed.nodes.length, epoch: signed.epoch, file: o.out })}\n`);
      } catch (err) {
        fail(err);
      }
    });
  topology
    .command('verify')
    .description('check a signed topology against the trusted authority public key')
    .requiredOption('--authority-key <hex>', 'the authority’s Ed25519 public key (hex)')
    .requiredOption('--in <file>', 'signed topology')
    .action((o: { authorityKey: string; in: string }) => {
      try {
        const doc = loadTopologyFile(o.in, o.authorityKey);
        process.stdout.write(
          `topology ${o.in}: signature valid, epoch ${doc.epoch}, ${doc.nodes.length} nodes in ${doc.layers} mix layers\n`,
        );
      } catch (err) {
        fail(err);
      }
    });
}
