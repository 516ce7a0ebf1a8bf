// Demo SOAP 1.1 CustomerService on the npm `soap` package: a third-party SOAP stack for
// rosetta's interop tests. Service logic adapted from the shared peer harness
// (shared/peers/soap-node); all SOAP/XML handling is the package's.
//   node server.js WSDL_PATH
// Binds 127.0.0.1 port 0, prints `listening on PORT`, stops when its stdin closes. The
// package is installed by scripts/test into $ROSETTA_PEERS_HOME/soap-node/node_modules.
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');
const home = process.env.ROSETTA_PEERS_HOME;
const soap = require('module').createRequire(path.join(home, 'soap-node', 'package.json'))('soap');

const tiers = ['GOLD', 'SILVER', 'BRONZE', 'BRONZE', 'SILVER'];
const db = new Map();
for (let i = 1; i <= 5; i++) {
  db.set(i, {
    id: i, name: `customer${i}`, email: `customer${i}@example.test`, tier: tiers[i - 1],
    tags: { string: [`c${i}`, 'seed'] },
    address: { street: `${i} Main St`, city: 'Springfield', country: 'US' },
    created: `2023-11-14T22:13:${20 + i}Z`, balance: `${i * 100}.25`,
  });
}
const fault = (code, msg) => ({ Fault: { faultcode: `soap:Client.${code}`, faultstring: msg, statusCode: 500 } });
const received = [];

const services = {
  CustomerService: {
    CustomerService: {
      getCustomer(args) {
        const c = db.get(Number(args.id));
        if (!c) throw fault('NotFound', `customer ${args.id} not found`);
        return { getCustomerResult: c };
      },
      listCustomers(args) {
        const list = [...db.values()].filter((c) => !args.tier || c.tier === args.tier);
        return { listCustomersResult: { Customer: list } };
      },
      add(args) { return { addResult: Number(args.a || 0) + Number(args.b || 0) }; },
      divide(args) {
        if (!Number(args.b)) throw fault('DivisionByZero', 'b must not be 0');
        return { divideResult: Number(args.a) / Number(args.b) };
      },
    },
  },
};

const server = http.createServer((req, res) => { res.statusCode = 404; res.end(); });
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const wsdl = fs.readFileSync(process.argv[2], 'utf8')
    .replace(/location="[^"]*"/, `location="http://127.0.0.1:${port}/CustomerService"`);
  soap.listen(server, '/CustomerService', services, wsdl);
  console.log(`listening on ${port}`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
