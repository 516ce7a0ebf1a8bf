// graphql-http's own client (a GraphQL-over-HTTP client nobody here wrote) against one URL:
// runs a query with a variable and one with a field error, prints both results as JSON.
//   node client.mjs http://127.0.0.1:PORT/graphql
import { createRequire } from 'node:module';
import { join } from 'node:path';

const home = process.env.ROSETTA_PEERS_HOME;
if (!home) throw new Error('ROSETTA_PEERS_HOME is not set (scripts/test sets it)');
const { createClient } = createRequire(join(home, 'gql-audit', 'package.json'))('graphql-http');

const client = createClient({ url: process.argv[2], fetchFn: fetch });
const run = (payload) =>
  new Promise((resolve, reject) => {
    let result;
    client.subscribe(payload, {
      next: (data) => (result = data),
      error: reject,
      complete: () => resolve(result),
    });
  });

const user = await run({
  query: 'query User($id: Int64) { getUser(id: $id) { id name role } }',
  variables: { id: '1' },
});
const missing = await run({ query: '{ getUser(id: 999) { id } }' });
console.log(JSON.stringify({ user, missing }));
