// Node.js baseline for the Lit Actions benchmark.
//
// A minimal HTTP server answering `POST /core/v1/lit_action` with the same request/reply
// semantics as lit-node (see /work/shared/spec/actions.md, "Request and reply"), so that the
// node's throughput and latency can be compared against plain V8:
//
//   node benches/node-baseline/server.mjs --mode <isolated|shared> --port <port> [--workers <n>]
//
// One process per core by default (node:cluster, `--workers` = os.availableParallelism()), as
// lit-node runs actions on every core: a single Node process would use one core and flatter our
// ratios (measured: 15–45%). `--workers 1` serves from one process, without cluster.
//
//   isolated  every request runs in a fresh `vm` context (like the node, which isolates every
//             run); `ethers` is a lazy global that loads the ethers v5 UMD bundle into that
//             context on first access, so actions that never touch ethers pay nothing for it.
//   shared    no isolation at all: one ethers instance loaded at startup, and the action is
//             compiled as a plain function of (ethers, Lit, console) in the main context.
//             This is the "fastest possible" floor.
//
// Only what the benchmark needs is provided: `Lit.Actions.setResponse`, `console` and `ethers`
// (plus, in isolated mode, `crypto.getRandomValues`, `atob` and `btoa`, which the ethers browser
// bundle uses and which the node provides to actions too).
// No limits (time, memory, sizes) are enforced on the action. Port 0 picks a free port; the
// server prints exactly one line `listening on http://127.0.0.1:<port>` when ready.

import cluster from 'node:cluster';
import http from 'node:http';
import os from 'node:os';
import vm from 'node:vm';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { webcrypto } from 'node:crypto';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');
const ETHERS_DIR = path.join(REPO_ROOT, '.tools', 'node_modules', 'ethers');

const MAX_BODY_BYTES = 16 * 1024 * 1024; // same default as the node's max_code_length
const CODE_CACHE_MAX = 1024; // compiled actions kept, oldest evicted first

// ---------------------------------------------------------------------------------------------
// Command line

function parseArgs(argv) {
  const opts = { mode: 'isolated', port: 0, workers: os.availableParallelism() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const take = () => {
      if (i + 1 >= argv.length) usage(`missing value for ${a}`);
      return argv[++i];
    };
    if (a === '--mode') opts.mode = take();
    else if (a.startsWith('--mode=')) opts.mode = a.slice(7);
    else if (a === '--port') opts.port = Number(take());
    else if (a.startsWith('--port=')) opts.port = Number(a.slice(7));
    else if (a === '--workers') opts.workers = Number(take());
    else if (a.startsWith('--workers=')) opts.workers = Number(a.slice(10));
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (opts.mode !== 'isolated' && opts.mode !== 'shared') usage(`bad mode ${opts.mode}`);
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('bad port');
  if (!Number.isInteger(opts.workers) || opts.workers < 1) usage('bad worker count');
  return opts;
}

function usage(msg) {
  if (msg) process.stderr.write(`server.mjs: ${msg}\n`);
  process.stderr.write('usage: node server.mjs --mode <isolated|shared> --port <port> [--workers <n>]\n');
  process.exit(msg ? 2 : 0);
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by both modes

/** A console whose output goes to `sink.logs`: arguments joined by spaces, one `\n` per call. */
function makeConsole(sink) {
  const log = (...args) => {
    let line = '';
    for (let i = 0; i < args.length; i++) {
      if (i > 0) line += ' ';
      const a = args[i];
      line += typeof a === 'string' ? a : util.inspect(a);
    }
    sink.logs += line + '\n';
  };
  return { log, info: log, warn: log, error: log, debug: log };
}

/** `Lit.Actions.setResponse({response})`: strings kept as is, anything else stored as JSON. */
function makeLit(sink) {
  const setResponse = (arg) => {
    const r = arg == null ? undefined : arg.response;
    sink.setResponse = typeof r === 'string' ? r : JSON.stringify(r);
  };
  const Actions = Object.freeze({ setResponse });
  return Object.freeze({ Actions });
}

/** A string that is valid JSON text goes out parsed; everything else as is. */
function finalResponse(value) {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function errorText(err) {
  try {
    return String(err);
  } catch {
    return 'Error: (unprintable exception)';
  }
}

/** Insert into a bounded Map, evicting the oldest entry when full. */
function cachePut(cache, key, value) {
  if (cache.size >= CODE_CACHE_MAX) cache.delete(cache.keys().next().value);
  cache.set(key, value);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Mode: isolated — a fresh vm context per run

function makeIsolatedRunner() {
  // The UMD bundle takes its CommonJS branch when `module`/`exports` exist, so wrapping it in a
  // function that provides them makes the script evaluate to the library without touching the
  // context's globals. Compiled once; a vm.Script is context independent, so the same compiled
  // code (and every function V8 compiles lazily later) is reused by every context.
  const bundle = fs.readFileSync(path.join(ETHERS_DIR, 'dist', 'ethers.umd.min.js'), 'utf8');
  const ethersScript = new vm.Script(
    `(function () { var module = { exports: {} }, exports = module.exports;\n${bundle}\n` +
      `;return module.exports; })()`,
    { filename: 'ethers.umd.min.js' },
  );

  // Evaluated inside the context after the action's top-level code: a function that looks up
  // `main` (function, var, let or const — script-scope bindings included) and calls it with the
  // params parsed by that context's own JSON, so they are ordinary objects of the action's realm.
  const callMainScript = new vm.Script(
    '(function (p) { return main(p === undefined ? null : JSON.parse(p)); })',
    { filename: 'lit_action_main.js' },
  );

  const getRandomValues = (a) => webcrypto.getRandomValues(a);
  const codeCache = new Map();

  return async function runIsolated(code, jsParamsJson, sink) {
    let script = codeCache.get(code);
    if (script === undefined) {
      try {
        script = new vm.Script(code, { filename: 'lit_action.js' });
      } catch (err) {
        return { error: err }; // syntax errors are not cached; they are cheap to re-report
      }
      cachePut(codeCache, code, script);
    }

    const sandbox = {
      Lit: makeLit(sink),
      console: makeConsole(sink),
      crypto: { getRandomValues },
      atob,
      btoa,
    };
    const context = vm.createContext(sandbox);
    Object.defineProperty(sandbox, 'ethers', {
      configurable: true,
      enumerable: false,
      get() {
        const ethers = ethersScript.runInContext(context);
        Object.defineProperty(sandbox, 'ethers', {
          value: ethers,
          writable: true,
          configurable: true,
          enumerable: false,
        });
        return ethers;
      },
    });

    try {
      script.runInContext(context);
      const callMain = callMainScript.runInContext(context);
      return { value: await callMain(jsParamsJson) };
    } catch (err) {
      return { error: err };
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Mode: shared — one ethers, action compiled as a function in the main context

function makeSharedRunner() {
  const ethers = createRequire(path.join(ETHERS_DIR, 'package.json'))(ETHERS_DIR);
  const codeCache = new Map();

  return async function runShared(code, jsParams, sink) {
    let factory = codeCache.get(code);
    if (factory === undefined) {
      try {
        // Top-level code becomes the body; the body then hands back `main`, which throws
        // `ReferenceError: main is not defined` like a script would when there is none.
        factory = new Function('ethers', 'Lit', 'console', `${code}\n;return main;`);
      } catch (err) {
        return { error: err };
      }
      cachePut(codeCache, code, factory);
    }

    try {
      const main = factory(ethers, makeLit(sink), makeConsole(sink));
      return { value: await main(jsParams === undefined ? null : jsParams) };
    } catch (err) {
      return { error: err };
    }
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendError(res, status, message) {
  send(res, status, { error: message });
}

function makeHandler(mode) {
  const isolated = mode === 'isolated';
  const run = isolated ? makeIsolatedRunner() : makeSharedRunner();

  async function execute(res, req) {
    const sink = { logs: '', setResponse: undefined };
    // Isolated mode hands the params over as JSON text so the context parses them itself.
    const params = isolated
      ? req.js_params === undefined
        ? undefined
        : JSON.stringify(req.js_params)
      : req.js_params;

    const outcome = await run(req.code, params, sink);

    let reply;
    if ('error' in outcome) {
      reply = { response: errorText(outcome.error), logs: sink.logs, has_error: true };
    } else {
      const v =
        outcome.value !== undefined
          ? outcome.value
          : sink.setResponse !== undefined
            ? sink.setResponse
            : '';
      reply = { response: finalResponse(v), logs: sink.logs, has_error: false };
    }

    let body;
    try {
      body = JSON.stringify(reply);
    } catch (err) {
      // e.g. a BigInt or a cycle in the returned value
      body = JSON.stringify({ response: errorText(err), logs: sink.logs, has_error: true });
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  return function handler(req, res) {
    const url = req.url.split('?', 1)[0];
    if (url !== '/core/v1/lit_action') return sendError(res, 404, 'not found');
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return sendError(res, 405, 'method not allowed');
    }

    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        sendError(res, 413, 'request body too large');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooLarge) return;
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
      } catch {
        return sendError(res, 400, 'request body is not valid JSON');
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        return sendError(res, 400, 'request body must be a JSON object');
      }
      if (typeof body.code !== 'string' || body.code.length === 0) {
        return sendError(res, 400, '`code` must be a non-empty string');
      }
      execute(res, body).catch((err) => {
        // Should not happen (runners catch everything), but never leave a request hanging.
        if (!res.headersSent) sendError(res, 500, errorText(err));
        else res.destroy();
      });
    });
  };
}

// ---------------------------------------------------------------------------------------------
// Main

const opts = parseArgs(process.argv.slice(2));

if (opts.workers > 1 && cluster.isPrimary) {
  // The primary only forks and reports: every worker listens on the same port (with port 0,
  // cluster hands all of them the same free port) and the kernel spreads connections.
  let listening = 0;
  let announced = false;
  cluster.on('listening', (_worker, address) => {
    listening += 1;
    if (listening === opts.workers && !announced) {
      announced = true;
      process.stdout.write(`listening on http://127.0.0.1:${address.port} (${opts.workers} processes)\n`);
    }
  });
  cluster.on('exit', (_worker, code, signal) => {
    if (!stopping) {
      process.stderr.write(`server.mjs: a worker exited (${signal || code})\n`);
      process.exit(1);
    }
  });
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (let i = 0; i < opts.workers; i++) cluster.fork();
} else {
  serve();
}

function serve() {
  const server = http.createServer(makeHandler(opts.mode));
  server.keepAliveTimeout = 60_000;

  // An action that leaves a rejected promise behind must not take the server down.
  process.on('unhandledRejection', () => {});

  server.on('error', (err) => {
    process.stderr.write(`server.mjs: ${err.message}\n`);
    process.exit(1);
  });

  server.listen(opts.port, '127.0.0.1', () => {
    // In a cluster the primary announces the address once every worker listens.
    if (!cluster.isWorker) {
      process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
    }
  });

  function shutdown() {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
