// Runs graphql-http's GraphQL-over-HTTP audits against one URL and prints the results as one
// JSON array of {id, name, status, reason} (status: ok, error = MUST failed, warn = SHOULD
// failed, notice = MAY not done). The packages come from $ROSETTA_PEERS_HOME/gql-audit, where
// scripts/test installs them.
//   node audit.mjs http://127.0.0.1:PORT/graphql
import { createRequire } from 'node:module';
import { join } from 'node:path';

const home = process.env.ROSETTA_PEERS_HOME;
if (!home) throw new Error('ROSETTA_PEERS_HOME is not set (scripts/test sets it)');
const { serverAudits } = createRequire(join(home, 'gql-audit', 'package.json'))('graphql-http');

const results = [];
for (const audit of serverAudits({ url: process.argv[2], fetchFn: fetch })) {
  const outcome = await audit.fn();
  results.push({ id: audit.id, name: audit.name, status: outcome.status, reason: outcome.reason ?? '' });
}
console.log(JSON.stringify(results));
