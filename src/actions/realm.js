// Turns a fresh QuickJS context into a worker's shared ethers realm (see src/actions/realm.rs):
// installs the globals ethers reads, initialises all of ethers and everything it computes lazily,
// then freezes every object of the realm an action could reach (or that ethers keeps between calls),
// so that no run can change what a later run sees. Its completion value is a function
// `(native, factory, expectedModules) → { ethers, report }`, called once by the host.
(function (native, factory, expectedModules) {
  "use strict";
  const G = globalThis;
  const { defineProperty, freeze, getOwnPropertyDescriptor, getPrototypeOf, isFrozen, preventExtensions } = Object;
  const ownKeys = Reflect.ownKeys;
  const current = native.current;

  // ---------------------------------------------------------------- globals ethers reads
  // Each forwards to the global of the run that is calling (ethers in a run sees that run's fetch,
  // timers and console, as if it had been loaded into the run's own context); outside a run they
  // are unavailable.
  const fromRun = (name) => {
    const value = current(name);
    if (value === undefined) throw new Error(`${name} is not available outside a Lit Action run`);
    return value;
  };
  const forward = (name) => {
    const f = { [name](...args) { return fromRun(name)(...args); } }[name];
    return f;
  };
  for (const name of ["fetch", "setTimeout", "clearTimeout", "setInterval", "clearInterval", "queueMicrotask"]) {
    defineProperty(G, name, { value: forward(name), writable: false, enumerable: false, configurable: false });
  }
  const logTo = (method) => (...args) => {
    const console = current("console");
    if (console !== undefined) console[method](...args);
  };
  defineProperty(G, "console", {
    value: { log: logTo("log"), info: logTo("info"), warn: logTo("warn"), error: logTo("error"), debug: logTo("debug"), trace: logTo("trace") },
    writable: false, enumerable: false, configurable: false,
  });
  // Randomness is native and stateless here: nothing a run draws tells another run anything.
  const randomBytes = native.randomBytes;
  defineProperty(G, "crypto", {
    value: {
      getRandomValues(array) {
        if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
          throw new TypeError("crypto.getRandomValues: argument must be an integer typed array");
        }
        if (array.byteLength > 65536) throw new RangeError("crypto.getRandomValues: at most 65536 bytes per call");
        new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(randomBytes(array.byteLength));
        return array;
      },
    },
    writable: false, enumerable: false, configurable: false,
  });
  defineProperty(Math, "random", { value: native.random, writable: false, enumerable: false, configurable: false });
  defineProperty(G, "global", { value: G, writable: false, enumerable: false, configurable: false });
  defineProperty(G, "self", { value: G, writable: false, enumerable: false, configurable: false });
  // A finaliser would run code of an earlier run during a later one.
  delete G.FinalizationRegistry;

  // No code from strings, as in the run contexts (prelude.js).
  const refuse = function () { throw new EvalError("Code generation from strings is not allowed in Lit Actions"); };
  refuse.prototype = Function.prototype;
  for (const sample of [function () {}, async function () {}, function* () {}, async function* () {}]) {
    defineProperty(getPrototypeOf(sample), "constructor", { value: refuse, writable: false, configurable: false });
  }
  defineProperty(G, "eval", { value: refuse, writable: false, enumerable: false, configurable: false });
  defineProperty(G, "Function", { value: refuse, writable: false, enumerable: false, configurable: false });

  // ---------------------------------------------------------------- all of ethers, initialised
  const moduleThunks = [];
  const ethers = factory({ ...native.ethers, runState: native.runState, moduleValues: (thunk) => { moduleThunks.push(thunk); } });
  // Every export, two levels down: the entry's lazy getters initialise every module.
  const touched = new Set();
  const touch = (value, depth) => {
    if (depth > 2 || value === null || (typeof value !== "object" && typeof value !== "function") || touched.has(value)) return;
    touched.add(value);
    for (const key of Object.keys(value)) touch(value[key], depth + 1);
  };
  touch(ethers, 0);
  if (moduleThunks.length !== expectedModules) {
    throw new Error(`ethers realm: ${moduleThunks.length} of ${expectedModules} modules were initialised`);
  }
  // What ethers would otherwise compute on first use and keep in module variables.
  ethers.utils.Logger.globalLogger();
  ethers.providers.BaseProvider.getFormatter();
  ethers.utils.namehash("lit.eth");
  ethers.utils.nameprep("lit");
  const fixed = ethers.FixedNumber.from("1.5");
  fixed.round(0); fixed.floor(); fixed.ceiling();
  ethers.wordlists.en.getWord(0);

  // ---------------------------------------------------------------- freezing
  // Data properties of intrinsic prototypes that code commonly assigns on instances
  // (`error.name = …`, `obj.toString = …`) become accessors whose setter defines the property on the
  // instance: a frozen prototype would otherwise make that assignment fail (the "override mistake").
  const overridable = (prototype, keys) => {
    for (const key of keys) {
      const d = getOwnPropertyDescriptor(prototype, key);
      if (!d || !("value" in d)) continue;
      const value = d.value;
      defineProperty(prototype, key, {
        get() { return value; },
        set(replacement) {
          if (this === prototype) throw new TypeError(`Cannot assign to read only property '${String(key)}' of a shared prototype`);
          defineProperty(this, key, { value: replacement, writable: true, enumerable: true, configurable: true });
        },
        enumerable: d.enumerable,
        configurable: false,
      });
    }
  };
  // (Only the keys such code assigns: an accessor makes every read of the key a call.)
  overridable(Object.prototype, ["constructor", "toString", "toLocaleString", "valueOf"]);
  overridable(Function.prototype, ["toString"]);
  for (const E of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) {
    overridable(E.prototype, ["constructor", "name", "message", "toString"]);
  }

  const brand = (method, value) => { try { method.call(value); return true; } catch { return false; } };
  const byteLength = getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get;
  const mapSize = getOwnPropertyDescriptor(Map.prototype, "size").get;
  const setSize = getOwnPropertyDescriptor(Set.prototype, "size").get;
  const regexpGlobal = getOwnPropertyDescriptor(RegExp.prototype, "global").get;
  const regexpSticky = getOwnPropertyDescriptor(RegExp.prototype, "sticky").get;
  // Objects whose state freezing does not fix: their contents (or `lastIndex`) stay writable.
  const mutableInside = (value) =>
    ArrayBuffer.isView(value) || brand(byteLength, value) || brand(mapSize, value) || brand(setSize, value) ||
    brand(WeakMap.prototype.has, value) || brand(WeakSet.prototype.has, value) || brand(Date.prototype.getTime, value) ||
    (brand(regexpGlobal, value) && (regexpGlobal.call(value) || regexpSticky.call(value)));

  // Freezes everything reachable from `roots` (own properties, accessors, prototypes) and returns
  // the objects with writable insides it found.
  const seen = new Set();
  const harden = (roots) => {
    const stack = [...roots];
    const inside = [];
    while (stack.length) {
      const value = stack.pop();
      if (value === null || (typeof value !== "object" && typeof value !== "function") || seen.has(value)) continue;
      seen.add(value);
      if (mutableInside(value)) {
        inside.push(value);
        preventExtensions(value);
      } else {
        freeze(value);
      }
      stack.push(getPrototypeOf(value));
      for (const key of ownKeys(value)) {
        const d = getOwnPropertyDescriptor(value, key);
        if ("value" in d) stack.push(d.value);
        else stack.push(d.get, d.set);
      }
    }
    return inside;
  };
  const strictArguments = (function () { "use strict"; return arguments; })();
  const intrinsics = [
    G,
    getPrototypeOf(function* () {}), getPrototypeOf(async function () {}), getPrototypeOf(async function* () {}),
    getPrototypeOf([][Symbol.iterator]()), getPrototypeOf(new Map().entries()), getPrototypeOf(new Set().values()),
    getPrototypeOf(""[Symbol.iterator]()), getPrototypeOf(/a/[Symbol.matchAll]("a")),
    getPrototypeOf(Uint8Array),
    getOwnPropertyDescriptor(strictArguments, "callee").get,
  ];
  if (typeof Iterator === "function") {
    intrinsics.push(getPrototypeOf([].values().map((x) => x)), getPrototypeOf(Iterator.from({ next() { return { done: true }; } })));
  }
  // What actions can reach must be entirely frozen.
  const reachable = harden([ethers, ...intrinsics]);
  if (reachable.length) {
    throw new Error(`ethers realm: ${reachable.length} reachable object(s) cannot be frozen (first: ${Object.prototype.toString.call(reachable[0])})`);
  }
  // What ethers keeps in its modules: frozen too; collections and typed arrays among them are
  // private to ethers (it never hands them out) and only read after initialisation.
  const internal = harden(moduleThunks.map((thunk) => thunk()));
  if (!isFrozen(G) || !isFrozen(ethers)) throw new Error("ethers realm: not frozen");
  return { ethers, objects: seen.size, privateCollections: internal.length };
})
