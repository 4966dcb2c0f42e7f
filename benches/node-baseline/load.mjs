// Closed-loop load generator for the Lit Actions benchmark (no dependencies; wrk/autocannon are
// not available here). N concurrent workers each send the same `POST /core/v1/lit_action` over
// a keep-alive connection, wait for the reply, and send again, for D seconds after a short
// warm-up. Prints requests/s and p50/p90/p99/max latency; replies that are not 200, have
// `has_error: true`, or (with --expect) carry another response count as errors.
//
//   node benches/node-baseline/load.mjs --url http://127.0.0.1:PORT \
//        (--code '<js source>' | --code-file FILE) [--params '<json>'] [--expect '<string>'] \
//        [-c 16] [-d 5] [--warmup 1] [--json]
//
// It works against any server speaking this API (the Node baseline or lit-node itself; use
// --header 'name: value' to add e.g. an API key header). Note that the generator is a Node
// process too: on a small machine it competes with the server for CPU.

import http from 'node:http';
import fs from 'node:fs';

function parseArgs(argv) {
  const o = { url: null, code: null, params: undefined, expect: undefined, c: 16, d: 5,
    warmup: 1, json: false, headers: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const take = () => {
      if (i + 1 >= argv.length) die(`missing value for ${a}`);
      return argv[++i];
    };
    switch (a) {
      case '--url': o.url = take(); break;
      case '--code': o.code = take(); break;
      case '--code-file': o.code = fs.readFileSync(take(), 'utf8'); break;
      case '--params': o.params = JSON.parse(take()); break;
      case '--expect': o.expect = take(); break;
      case '-c': case '--concurrency': o.c = Number(take()); break;
      case '-d': case '--duration': o.d = Number(take()); break;
      case '--warmup': o.warmup = Number(take()); break;
      case '--json': o.json = true; break;
      case '--header': {
        const h = take();
        const k = h.indexOf(':');
        if (k <= 0) die(`bad header ${h}`);
        o.headers[h.slice(0, k).trim().toLowerCase()] = h.slice(k + 1).trim();
        break;
      }
      default: die(`unknown argument ${a}`);
    }
  }
  if (!o.url || o.code == null) die('--url and --code/--code-file are required');
  if (!(o.c >= 1) || !(o.d > 0) || !(o.warmup >= 0)) die('bad -c/-d/--warmup');
  return o;
}

function die(msg) {
  process.stderr.write(`load.mjs: ${msg}\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const target = new URL('/core/v1/lit_action', opts.url);
const payload = Buffer.from(JSON.stringify({ code: opts.code, js_params: opts.params }));
const agent = new http.Agent({ keepAlive: true, maxSockets: opts.c, maxFreeSockets: opts.c });
const reqOpts = {
  agent,
  method: 'POST',
  hostname: target.hostname,
  port: target.port,
  path: target.pathname,
  headers: {
    ...opts.headers,
    'content-type': 'application/json',
    'content-length': payload.length,
  },
};

/** One request; resolves to {ok, ns, detail}. */
function once() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(reqOpts, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ns = Number(process.hrtime.bigint() - t0);
        const text = Buffer.concat(chunks).toString('utf8');
        let ok = res.statusCode === 200;
        if (ok) {
          try {
            const r = JSON.parse(text);
            ok = r.has_error === false &&
              (opts.expect === undefined ||
                (typeof r.response === 'string' ? r.response : JSON.stringify(r.response)) ===
                  opts.expect);
          } catch {
            ok = false;
          }
        }
        resolve({ ok, ns, detail: ok ? null : `${res.statusCode} ${text.slice(0, 200)}` });
      });
      res.on('error', (e) => resolve({ ok: false, ns: 0, detail: String(e) }));
    });
    req.on('error', (e) => resolve({ ok: false, ns: 0, detail: String(e) }));
    req.end(payload);
  });
}

async function phase(seconds, record) {
  const stopAt = Date.now() + seconds * 1000;
  const lat = [];
  let errors = 0;
  let firstError = null;
  const worker = async () => {
    while (Date.now() < stopAt) {
      const r = await once();
      if (!record) continue;
      if (r.ok) lat.push(r.ns);
      else {
        errors++;
        firstError ??= r.detail;
      }
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: opts.c }, worker));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  return { lat, errors, firstError, elapsed };
}

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

if (opts.warmup > 0) await phase(opts.warmup, false);
const { lat, errors, firstError, elapsed } = await phase(opts.d, true);
agent.destroy();

lat.sort((a, b) => a - b);
const ms = (ns) => ns / 1e6;
const result = {
  concurrency: opts.c,
  duration_s: +elapsed.toFixed(3),
  requests: lat.length,
  errors,
  rps: +(lat.length / elapsed).toFixed(1),
  p50_ms: +ms(pct(lat, 50)).toFixed(3),
  p90_ms: +ms(pct(lat, 90)).toFixed(3),
  p99_ms: +ms(pct(lat, 99)).toFixed(3),
  max_ms: +ms(lat[lat.length - 1] ?? NaN).toFixed(3),
};

if (opts.json) {
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  process.stdout.write(
    `c=${result.concurrency} ${result.duration_s}s: ${result.requests} ok, ${errors} errors, ` +
      `${result.rps} req/s, p50 ${result.p50_ms} ms, p90 ${result.p90_ms} ms, ` +
      `p99 ${result.p99_ms} ms, max ${result.max_ms} ms\n`,
  );
}
if (errors > 0) {
  process.stderr.write(`first error: ${firstError}\n`);
  process.exitCode = 1;
}
