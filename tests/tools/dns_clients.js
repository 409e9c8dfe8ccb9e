// Node's c-ares door (tests/integration): dns.resolve4/resolve6 on the
// system's servers and a new dns.Resolver() with setServers([SERVER]).
//   node dns_clients.js SERVER NAME...
// One line per call: "NAME FUNC ADDR..." or "NAME FUNC error CODE".
const dns = require('dns');
const [, , srv, ...names] = process.argv;

async function one(n, label, f) {
  try {
    console.log(n, label, (await f(n)).sort().join(' '));
  } catch (e) {
    console.log(n, label, 'error', e.code);
  }
}

(async () => {
  const r = new dns.promises.Resolver({ timeout: 3000, tries: 1 });
  r.setServers([srv]);
  for (const n of names) {
    await one(n, 'dns.resolve4', dns.promises.resolve4);
    await one(n, 'dns.resolve6', dns.promises.resolve6);
    await one(n, 'Resolver.resolve4', (x) => r.resolve4(x));
    await one(n, 'Resolver.resolve6', (x) => r.resolve6(x));
  }
})();
