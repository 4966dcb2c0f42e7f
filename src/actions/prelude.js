// The JavaScript half of the Lit Actions runtime (spec/actions.md, "What the action sees").
// Evaluated once in every fresh context before the action's code. Its completion value is a
// function that receives `host` (native functions implemented in Rust, see src/actions/host.rs),
// installs the globals, and returns the `driver` the Rust event loop uses to call `main`, fire
// timers and deliver fetch results. `host` itself never becomes reachable from the action.
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
  const once = (make) => {
    let value;
    return () => (value === undefined ? (value = make()) : value);
  };
  // Native groups created on first use (see host_object in host.rs).
  const utils = once(() => host.utils());
  const keys = once(() => host.keys());
  const web = once(() => host.load("web")(utils(), toUint8, jsonStringify, jsonParse, PromiseCtor));
  // console, crypto, structuredClone and the Lit objects (globals.js), loaded on first use.
  const globals = once(() => host.load("globals")(host, { utils, keys, toUint8, kind, isError, jsonStringify }));
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
      const id = host.fetchStart(request.method, request.url, Array.from(request.headers.entries()), request._peek().length ? request._peek() : null);
      pendingFetches.set(id, { resolve, reject, url: request.url });
    });
  }

  // ---------------------------------------------------------------- timers
  const timers = new Map();
  let nextTimerId = 1;
  function setTimeout(callback, delay = 0, ...args) {
    if (typeof callback !== "function") throw new TypeError("setTimeout: callback must be a function");
    const id = nextTimerId++;
    const ms = Math.max(0, Number(delay) || 0);
    timers.set(id, { due: host.now() + ms, callback, args });
    return id;
  }
  function clearTimeout(id) { timers.delete(id); }

  // ---------------------------------------------------------------- install
  const fixed = (name, value) => defineProperty(G, name, { value, writable: false, enumerable: false, configurable: false });
  const plain = (name, value) => defineProperty(G, name, { value, writable: true, enumerable: false, configurable: true });
  const fixedLazy = (name, get) => defineProperty(G, name, { get, enumerable: false, configurable: false });
  fixedLazy("Lit", () => globals().litObjects().lit);
  fixedLazy("LitActions", () => globals().litObjects().litActions);
  fixedLazy("LitHeaders", () => globals().litObjects().litHeaders);
  plain("global", G);
  const lazy = (name, make) => {
    let value;
    defineProperty(G, name, {
      get() { return value === undefined ? (value = make()) : value; },
      set(replacement) { value = replacement; },
      enumerable: false,
      configurable: true,
    });
  };
  lazy("console", () => globals().console);
  lazy("crypto", () => globals().crypto);
  lazy("structuredClone", () => globals().structuredClone);
  lazy("TextEncoder", () => web().TextEncoder);
  lazy("TextDecoder", () => web().TextDecoder);
  lazy("URL", () => web().URL);
  lazy("URLSearchParams", () => web().URLSearchParams);
  lazy("Headers", () => web().Headers);
  lazy("Request", () => web().Request);
  lazy("Response", () => web().Response);
  plain("fetch", fetch);
  plain("setTimeout", setTimeout);
  plain("clearTimeout", clearTimeout);
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
  const state = { settled: false, failed: false, error: "", value: undefined };
  const fail = (error) => {
    if (!state.failed) { state.failed = true; state.error = describeError(error); }
    state.settled = true;
  };
  return {
    run(main, paramsJson) {
      const params = paramsJson === undefined ? null : jsonParse(paramsJson);
      let result;
      try {
        result = main(params);
      } catch (error) {
        fail(error);
        return;
      }
      PromiseCtor.resolve(result).then(
        (value) => { state.value = value; state.settled = true; },
        (error) => fail(error),
      );
    },
    fail(message) { fail(message); },
    describe(error) { return describeError(error); },
    settled() { return state.settled; },
    failed() { return state.failed; },
    error() { return state.error; },
    // {isString, text} of main's return value, or undefined when it returned undefined.
    returned() {
      const value = state.value;
      if (value === undefined) return undefined;
      if (typeof value === "string") return { isString: true, text: value };
      const text = jsonStringify(value);
      return { isString: false, text: text === undefined ? "null" : text };
    },
    nextTimer() {
      let due = -1;
      for (const timer of timers.values()) if (due < 0 || timer.due < due) due = timer.due;
      return due;
    },
    fireTimers(now) {
      const ready = Array.from(timers).filter(([, t]) => t.due <= now).sort((a, b) => a[1].due - b[1].due || a[0] - b[0]);
      for (const [id, timer] of ready) {
        if (!timers.has(id)) continue;
        timers.delete(id);
        try { timer.callback(...timer.args); } catch (error) { fail(error); }
      }
    },
    pendingFetches() { return pendingFetches.size; },
    fetchDone(id, outcome) {
      const pending = pendingFetches.get(id);
      if (!pending) return;
      pendingFetches.delete(id);
      if (typeof outcome === "string") {
        pending.reject(new TypeError(`fetch failed: ${outcome}`));
        return;
      }
      pending.resolve(new (web().Response)(outcome.body, { status: outcome.status, statusText: outcome.statusText, headers: outcome.headers, url: outcome.url, redirected: outcome.redirected }));
    },
  };
})
