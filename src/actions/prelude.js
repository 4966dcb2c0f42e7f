// The JavaScript half of the Lit Actions runtime (spec/actions.md, "What the action sees").
// Evaluated once in every fresh context before the action's code. Its completion value is a
// function that receives `host` (native functions implemented in Rust, see src/actions/host.rs),
// installs the globals, and returns the `driver` function the Rust event loop uses to call
// `main`, fire timers and deliver fetch results. `host` itself never becomes reachable from the action.
(function (host) {
  "use strict";
  const G = globalThis;
  const { defineProperty } = Object;
  const jsonStringify = JSON.stringify;
  const jsonParse = JSON.parse;
  const PromiseCtor = Promise;
  const FunctionPrototype = Function.prototype;
  // The built-in kind of an object ("Error", "Uint8Array", "Map", ...). Unlike instanceof it also
  // recognises objects of the worker's shared ethers realm (src/actions/realm.rs).
  const objectToString = Object.prototype.toString;
  const kind = (value) => objectToString.call(value).slice(8, -1);
  const isError = (value) => value instanceof Error || kind(value) === "Error";
  // Native groups created on first use (see host_object in host.rs).
  let utilsGroup, keysGroup, webClasses, globalsChunk;
  const utils = () => (utilsGroup ??= host.utils());
  const keys = () => (keysGroup ??= host.keys());
  // The timer functions web.js needs are made with it, not in every run.
  const web = () => (webClasses ??= host.load("web")(utils(), toUint8, jsonStringify, jsonParse, PromiseCtor,
    { now: () => host.now(), background: (callback, delay) => addTimer(callback, delay, [], false, true) }, fail));
  // console, crypto, performance, structuredClone and the Lit objects (globals.js), loaded on first use.
  const globals = () => (globalsChunk ??= host.load("globals")(host, { utils, keys, web, toUint8, kind, isError, jsonStringify, PromiseCtor }));
  const toUint8 = (data, what) => {
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer || kind(data) === "ArrayBuffer") return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (Array.isArray(data)) return Uint8Array.from(data);
    throw new TypeError(`${what} must be a Uint8Array, ArrayBuffer or typed array`);
  };

  // ---------------------------------------------------------------- fetch (the classes live in web.js)
  const pendingFetches = new Map();
  function fetch(input, init) {
    return new PromiseCtor((resolve, reject) => {
      const request = new (web().Request)(input, init);
      const signal = request.signal;
      if (signal && signal.aborted) { reject(signal.reason); return; }
      const id = host.fetchStart(request.method, request.url, Array.from(request.headers.entries()), request._peek().length ? request._peek() : null);
      const pending = { resolve, reject, url: request.url, signal, onAbort: null };
      if (signal) {
        // Aborting stops the request (the host drops it) and rejects with the signal's reason.
        pending.onAbort = () => {
          if (!pendingFetches.delete(id)) return;
          host.fetchAbort(id);
          reject(signal.reason);
        };
        signal.addEventListener("abort", pending.onAbort, { once: true });
      }
      pendingFetches.set(id, pending);
    });
  }

  // ---------------------------------------------------------------- timers
  // A timeout keeps the run going until it fires; an interval or a background timer (the one of
  // AbortSignal.timeout) does not keep a run whose main has settled: its pending ones are dropped.
  const timers = new Map();
  let nextTimerId = 1;
  // As browsers do: a delay that is not a number from 0 to 2^31 − 1 ms (NaN, negative, infinite,
  // huge) means "as soon as possible".
  const delayOf = (delay) => {
    const ms = Number(delay);
    return ms >= 0 && ms <= 2147483647 ? ms : 0;
  };
  const addTimer = (callback, delay, args, repeat, background) => {
    if (typeof callback !== "function") throw new TypeError(`${repeat ? "setInterval" : "setTimeout"}: callback must be a function`);
    const id = nextTimerId++;
    const ms = delayOf(delay);
    // An interval of 0 fires at most once per millisecond, as in browsers.
    timers.set(id, { due: host.now() + ms, callback, args, every: repeat ? Math.max(ms, 1) : 0, background: background || repeat });
    return id;
  };
  function setTimeout(callback, delay = 0, ...args) { return addTimer(callback, delay, args, false, false); }
  function setInterval(callback, delay = 0, ...args) { return addTimer(callback, delay, args, true, false); }
  function clearTimeout(id) { timers.delete(id); }

  // ---------------------------------------------------------------- install
  const fixed = (name, value) => defineProperty(G, name, { value, writable: false, enumerable: false, configurable: false });
  const plain = (name, value) => defineProperty(G, name, { value, writable: true, enumerable: false, configurable: true });
  const fixedLazy = (name, get) => defineProperty(G, name, { get, enumerable: false, configurable: false });
  fixedLazy("Lit", () => globals().litObjects().lit);
  fixedLazy("LitActions", () => globals().litObjects().litActions);
  fixedLazy("LitHeaders", () => globals().litObjects().litHeaders);
  plain("global", G);
  // console, crypto, TextEncoder, Blob, … are made on first use from the `globals` and `web`
  // chunks by native accessors (src/actions/host/lazy.rs): the engine asks for the two chunk
  // loaders (`driver("chunks")`) and defines them before the action's code runs.
  plain("fetch", fetch);
  plain("setTimeout", setTimeout);
  plain("clearTimeout", clearTimeout);
  plain("setInterval", setInterval);
  plain("clearInterval", clearTimeout);
  if (typeof G.queueMicrotask !== "function") plain("queueMicrotask", (fn) => { PromiseCtor.resolve().then(fn); });
  let ethers;
  defineProperty(G, "ethers", {
    get() {
      if (ethers === undefined) ethers = host.loadEthers();
      return ethers;
    },
    set(value) { ethers = value; },
    enumerable: false,
    configurable: false,
  });

  // The worker's runtime outlives the run (src/actions/engine.rs): a finaliser registered here
  // would run this action's code during a later run.
  delete G.FinalizationRegistry;

  // No code from strings: eval and every Function constructor throw.
  const refuse = function () { throw new EvalError("Code generation from strings is not allowed in Lit Actions"); };
  const neuter = (prototype) => defineProperty(prototype, "constructor", { value: refuse, writable: false, configurable: false });
  refuse.prototype = FunctionPrototype;
  for (const sample of [function () {}, async function () {}, function* () {}, async function* () {}]) {
    neuter(Object.getPrototypeOf(sample));
  }
  fixed("eval", refuse);
  fixed("Function", refuse);

  // ---------------------------------------------------------------- driver (used by Rust only)
  const describeError = (error) => {
    if (isError(error)) {
      try { return `${error.name}: ${error.message}`; } catch { return "Error"; }
    }
    if (typeof error === "string") return error;
    try { return globals().inspect(error, 1, []); } catch { return String(error); }
  };
  let settled = false;
  let failed = false;
  let failure = "";
  let returned;
  const fail = (error) => {
    if (!failed) { failed = true; failure = describeError(error); }
    settled = true;
  };
  // Calls main with js_params (JSON text; undefined → main(null)) and records how it ends.
  const start = (main, params) => {
    let result;
    try {
      result = main(params === undefined ? null : jsonParse(params));
    } catch (error) {
      fail(error);
      return;
    }
    PromiseCtor.resolve(result).then(
      (value) => { returned = value; settled = true; },
      (error) => fail(error),
    );
  };
  // One function rather than an object of methods: a run creates every closure of the prelude,
  // so fewer is faster. `op` names what the Rust side asks for.
  return function driver(op, a, b) {
    switch (op) {
      case "chunks": return [globals, web];
      case "run": start(a, b); return;
      case "runModule": {
        // a: [the module's evaluation promise, its namespace], b: js_params as JSON text. `main`
        // is the module's own binding (a declaration, a const, or exported), else its `main` or
        // default export.
        const [evaluated, namespace] = a;
        PromiseCtor.resolve(evaluated).then(() => {
          let main = namespace.__litMain();
          if (main === undefined) main = namespace.main;
          if (main === undefined && typeof namespace.default === "function") main = namespace.default;
          if (typeof main !== "function") { fail(new ReferenceError("main is not defined")); return; }
          start(main, b);
        }, fail);
        return;
      }
      case "fail": fail(a); return;
      case "describe": return describeError(a);
      case "settled": return settled;
      // [how the run ended, text]: ["failed", error], ["string", value], ["json", value as JSON]
      // or ["undefined", ""] when main returned undefined.
      case "outcome": {
        if (failed) return ["failed", failure];
        if (returned === undefined) return ["undefined", ""];
        if (typeof returned === "string") return ["string", returned];
        const text = jsonStringify(returned);
        return ["json", text === undefined ? "null" : text];
      }
      case "nextTimer": {
        let due = -1;
        for (const [id, timer] of timers) {
          if (settled && timer.background) { timers.delete(id); continue; }
          if (due < 0 || timer.due < due) due = timer.due;
        }
        return due;
      }
      case "fireTimers": {
        const ready = Array.from(timers).filter(([, t]) => t.due <= a).sort((x, y) => x[1].due - y[1].due || x[0] - y[0]);
        for (const [id, timer] of ready) {
          if (!timers.has(id)) continue;
          if (timer.every) timer.due = Math.max(timer.due + timer.every, a);
          else timers.delete(id);
          try { timer.callback(...timer.args); } catch (error) { fail(error); }
        }
        return;
      }
      case "fetchDone": {
        // a: the fetch id, b: an error text or the response's parts.
        const pending = pendingFetches.get(a);
        if (!pending) return;
        pendingFetches.delete(a);
        if (pending.onAbort) pending.signal.removeEventListener("abort", pending.onAbort);
        if (typeof b === "string") {
          pending.reject(new TypeError(`fetch failed: ${b}`));
          return;
        }
        pending.resolve(new (web().Response)(b.body, { status: b.status, statusText: b.statusText, headers: b.headers, url: b.url, redirected: b.redirected }));
        return;
      }
      default: throw new TypeError(`driver: unknown operation ${op}`);
    }
  };
})
