// Builds the QuickJS-ready bundle of ethers@5.7.2 that lit-node evaluates in each action context.
//
//   node js/ethers/build.mjs <out-file>
//
// ethers, its dependencies and esbuild come from .tools/node_modules (installed by script/setup.sh,
// pinned by script/tools/package-lock.json). The bundle differs from ethers' own UMD build in these
// ways, all invisible to callers (js/ethers/test/verify.mjs checks it byte for byte):
//   - @ethersproject/keccak256, /signing-key and /sha2 are replaced by js/ethers/shims/*, which call
//     native host functions (see js/ethers/README.md for the contract);
//   - the script's completion value is a function `(__litNative) => ethers`: the host evaluates the
//     script, calls the function with its native object and installs the result as `ethers` itself.
//     Nothing is written to globalThis;
//   - modules are initialised lazily: the entry is generated (generateEntry) instead of being ethers'
//     own lib.esm/index.js, every module becomes an esbuild `__esm`/`__commonJS` initialiser, and
//     `ethers`, `ethers.ethers` and `ethers.utils` are objects of lazy getters (lazy-exports.js) that
//     initialise the modules holding a value on its first access. Calling the factory initialises
//     no ethers module; keys are still those of real ethers, in its order;
//   - a few costly module-level computations are deferred to first use (see SOURCE_EDITS): the ENS
//     normalisation tables of @ethersproject/hash, the nameprep tables of @ethersproject/strings,
//     FixedNumber's constants, and aes-js; scrypt-js looks up `setTimeout` only when its async
//     variant yields.
// The build runs real ethers (its CommonJS build) under Node once, to read the order of its keys.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..", "..");
export const toolsModules = path.join(repoRoot, ".tools", "node_modules");
const shims = path.join(here, "shims");

// Bare module names that are swapped for our shims (exact names only: the shims themselves import
// files such as "@ethersproject/sha2/lib.esm/types.js" from the original packages).
const NATIVE_SHIMS = {
    "@ethersproject/keccak256": path.join(shims, "keccak256.js"),
    "@ethersproject/signing-key": path.join(shims, "signing-key.js"),
    "@ethersproject/sha2": path.join(shims, "sha2.js"),
};

// Where the shared-ethers edits below keep their per-run variables.
const RUN_STATE = path.join(shims, "run-state.js");
const IMPORT_RUN_STATE = `import { runState as __litRunState } from ${JSON.stringify(RUN_STATE)};\n`;
const IMPORT_NEXT_ID = `import { nextId as __litNextId } from ${JSON.stringify(RUN_STATE)};\n`;

export const BANNER = "(function(__litNative){";
export const FOOTER = "return ethers;})";

function nativeShimsPlugin() {
    return {
        name: "lit-native-shims",
        setup(build) {
            build.onResolve({ filter: /^@ethersproject\/(keccak256|signing-key|sha2)$/ }, (args) => ({
                path: NATIVE_SHIMS[args.path],
            }));
        },
    };
}

// Exact-text edits of a few dependency files. Every edit must match exactly once in each of its
// files, and apply to `files` files (default 1), so a different version of a dependency fails the
// build instead of silently losing the edit.
const SOURCE_EDITS = [
    {
        // @ethersproject/bytes: the byte <-> hex loops of arrayify and hexlify (under everything
        // ethers does: ~20 us per 32-byte value in QuickJS's interpreter) run natively. Inputs are
        // validated by ethers as before (a hex string of even length; bytes of integers 0..255), so
        // results and errors are unchanged.
        name: "native hex loops",
        file: /[\\/]@ethersproject[\\/]bytes[\\/]lib\.esm[\\/]index\.js$/,
        edits: [
            [
                "        const result = [];\n        for (let i = 0; i < hex.length; i += 2) {\n            result.push(parseInt(hex.substring(i, i + 2), 16));\n        }\n        return addSlice(new Uint8Array(result));\n",
                "        return addSlice(__litNative.hexToBytes(hex));\n",
            ],
            [
                "        let result = \"0x\";\n        for (let i = 0; i < value.length; i++) {\n            let v = value[i];\n            result += HexCharacters[(v & 0xf0) >> 4] + HexCharacters[v & 0x0f];\n        }\n        return result;\n",
                "        return __litNative.bytesToHex(value instanceof Uint8Array ? value : Uint8Array.from(value));\n",
            ],
        ],
    },
    {
        // @ethersproject/address: the checksum of getAddress (every Wallet computes its address
        // with it: ~20 us in QuickJS's interpreter) is computed natively. The input was checked
        // just before (`isHexString(address, 20)`), so the native function gets 40 hex digits;
        // it upper-cases a letter where the nibble of keccak256(lower-case digits) is 8 or more,
        // exactly as the loop did.
        name: "native address checksum",
        file: /[\\/]@ethersproject[\\/]address[\\/]lib\.esm[\\/]index\.js$/,
        edits: [
            [
                "    address = address.toLowerCase();\n    const chars = address.substring(2).split(\"\");\n    const expanded = new Uint8Array(40);\n    for (let i = 0; i < 40; i++) {\n        expanded[i] = chars[i].charCodeAt(0);\n    }\n    const hashed = arrayify(keccak256(expanded));\n    for (let i = 0; i < 40; i += 2) {\n        if ((hashed[i >> 1] >> 4) >= 8) {\n            chars[i] = chars[i].toUpperCase();\n        }\n        if ((hashed[i >> 1] & 0x0f) >= 8) {\n            chars[i + 1] = chars[i + 1].toUpperCase();\n        }\n    }\n    return \"0x\" + chars.join(\"\");\n",
                "    return __litNative.checksumAddress(address.toLowerCase().substring(2));\n",
            ],
        ],
    },
    {
        // @ethersproject/strings: toUtf8Bytes of a string without surrogate code units (all of
        // the Basic Multilingual Plane) is plain UTF-8, encoded natively; strings with surrogates
        // (pairs, or the lone ones ethers encodes or refuses in its own way) and non-strings keep
        // the loop.
        name: "native UTF-8 for surrogate-free strings",
        file: /[\\/]@ethersproject[\\/]strings[\\/]lib\.esm[\\/]utf8\.js$/,
        edits: [
            [
                "        str = str.normalize(form);\n    }\n    let result = [];\n",
                "        str = str.normalize(form);\n    }\n    if (typeof str === \"string\" && !/[\\ud800-\\udfff]/.test(str)) {\n        return __litNative.utf8Encode(str);\n    }\n    let result = [];\n",
            ],
        ],
    },
    // Module-level variables that ethers' functions change after initialisation move to the current
    // run's state (shims/run-state.js), so that the one frozen ethers a worker shares between runs
    // (src/actions/realm.rs) carries nothing from one run to the next.
    {
        name: "per-run logger settings",
        file: /[\\/]@ethersproject[\\/]logger[\\/]lib\.esm[\\/]index\.js$/,
        edits: [
            ["let _permanentCensorErrors = false;\nlet _censorErrors = false;\n", IMPORT_RUN_STATE],
            ["let _logLevel = LogLevels[\"default\"];\n", ""],
            ["if (_logLevel > LogLevels[level]) {", "if ((__litRunState().logLevel ?? LogLevels[\"default\"]) > LogLevels[level]) {"],
            ["if (_censorErrors) {", "if (__litRunState().censorErrors) {"],
            ["if (_permanentCensorErrors) {", "if (__litRunState().permanentCensorErrors) {"],
            [
                "_censorErrors = !!censorship;\n        _permanentCensorErrors = !!permanent;",
                "__litRunState().censorErrors = !!censorship;\n        __litRunState().permanentCensorErrors = !!permanent;",
            ],
            ["_logLevel = level;", "__litRunState().logLevel = level;"],
        ],
    },
    {
        name: "per-run BigNumber radix warning",
        file: /[\\/]@ethersproject[\\/]bignumber[\\/]lib\.esm[\\/]bignumber\.js$/,
        edits: [
            ["let _warnedToStringRadix = false;\n", IMPORT_RUN_STATE],
            [
                "if (!_warnedToStringRadix) {\n                    _warnedToStringRadix = true;",
                "if (!__litRunState().warnedToStringRadix) {\n                    __litRunState().warnedToStringRadix = true;",
            ],
        ],
    },
    {
        name: "per-run poll ids",
        file: /[\\/]@ethersproject[\\/]providers[\\/]lib\.esm[\\/]base-provider\.js$/,
        edits: [
            ["let nextPollId = 1;\n", IMPORT_NEXT_ID],
            ["const pollId = nextPollId++;", "const pollId = __litNextId(\"pollId\");"],
        ],
    },
    {
        name: "per-run fallback request ids",
        file: /[\\/]@ethersproject[\\/]providers[\\/]lib\.esm[\\/]fallback-provider\.js$/,
        edits: [
            ["let nextRid = 1;\n", IMPORT_NEXT_ID],
            ["const rid = nextRid++;", "const rid = __litNextId(\"fallbackRid\");"],
        ],
    },
    {
        name: "per-run throttle notice",
        file: /[\\/]@ethersproject[\\/]providers[\\/]lib\.esm[\\/]formatter\.js$/,
        edits: [
            ["let throttleMessage = false;\n", IMPORT_RUN_STATE],
            [
                "if (throttleMessage) {\n        return;\n    }\n    throttleMessage = true;",
                "if (__litRunState().throttleMessage) {\n        return;\n    }\n    __litRunState().throttleMessage = true;",
            ],
        ],
    },
    {
        name: "per-run web3 request ids",
        file: /[\\/]@ethersproject[\\/]providers[\\/]lib\.esm[\\/]web3-provider\.js$/,
        edits: [
            ["let _nextId = 1;\n", IMPORT_NEXT_ID],
            ["id: (_nextId++),", "id: __litNextId(\"web3Id\"),"],
        ],
    },
    {
        name: "per-run websocket request ids",
        file: /[\\/]@ethersproject[\\/]providers[\\/]lib\.esm[\\/]websocket-provider\.js$/,
        edits: [
            ["let NextId = 1;\n", IMPORT_NEXT_ID],
            ["const rid = NextId++;", "const rid = __litNextId(\"websocketId\");"],
        ],
    },
    {
        // @ethersproject/hash: decode the four ENS normalisation tables on the first normalize()
        // call (namehash, ensNormalize, isValidName, dnsEncode) instead of at module evaluation,
        // which costs ~113 ms per context in QuickJS.
        name: "lazy ENS tables",
        file: /[\\/]@ethersproject[\\/]hash[\\/]lib\.esm[\\/]ens-normalize[\\/]lib\.js$/,
        edits: [
            ["const r = getData();\n", ""],
            [
                "const VALID = new Set(read_member_array(r));\n" +
                    "const IGNORED = new Set(read_member_array(r));\n" +
                    "const MAPPED = read_mapped_map(r);\n" +
                    "const EMOJI_ROOT = read_emoji_trie(r);\n",
                "let VALID, IGNORED, MAPPED, EMOJI_ROOT;\n" +
                    "function __litEnsTables() {\n" +
                    "    if (VALID !== undefined) return;\n" +
                    "    const r = getData();\n" +
                    "    const valid = new Set(read_member_array(r));\n" +
                    "    const ignored = new Set(read_member_array(r));\n" +
                    "    const mapped = read_mapped_map(r);\n" +
                    "    EMOJI_ROOT = read_emoji_trie(r);\n" +
                    "    IGNORED = ignored;\n" +
                    "    MAPPED = mapped;\n" +
                    "    VALID = valid;\n" +
                    "}\n",
            ],
            ["function normalize(name, emoji_filter) {\n", "function normalize(name, emoji_filter) {\n    __litEnsTables();\n"],
            ["function consume_emoji_reversed(cps, eaten) {\n", "function consume_emoji_reversed(cps, eaten) {\n    __litEnsTables();\n"],
        ],
    },
    {
        // @ethersproject/strings: build the nameprep (IDNA) tables on the first nameprep call
        // instead of at module evaluation (~0.7 ms per QuickJS context; every signer path loads
        // @ethersproject/strings, only utils.nameprep needs the tables).
        name: "lazy nameprep tables",
        file: /[\\/]@ethersproject[\\/]strings[\\/]lib\.esm[\\/]idna\.js$/,
        edits: [
            ["const Table_A_1_ranges = createRangeTable(", "let Table_A_1_ranges;\nconst __litTableA1 = () => createRangeTable("],
            ["const Table_B_2_lut_abs = createTable(", "let Table_B_2_lut_abs;\nconst __litTableB2abs = () => createTable("],
            ["const Table_B_2_lut_rel = createTable(", "let Table_B_2_lut_rel;\nconst __litTableB2rel = () => createTable("],
            ["const Table_B_2_complex = createTable(", "let Table_B_2_complex;\nconst __litTableB2complex = () => createTable("],
            ["const Table_C_ranges = createRangeTable(", "let Table_C_ranges;\nconst __litTableC = () => createRangeTable("],
            [
                "function flatten(values) {\n",
                "function __litIdnaTables() {\n" +
                    "    if (Table_C_ranges !== undefined) return;\n" +
                    "    Table_A_1_ranges = __litTableA1();\n" +
                    "    Table_B_2_lut_abs = __litTableB2abs();\n" +
                    "    Table_B_2_lut_rel = __litTableB2rel();\n" +
                    "    Table_B_2_complex = __litTableB2complex();\n" +
                    "    Table_C_ranges = __litTableC();\n" +
                    "}\n" +
                    "function flatten(values) {\n",
            ],
            ["export function _nameprepTableA1(codepoint) {\n", "export function _nameprepTableA1(codepoint) {\n    __litIdnaTables();\n"],
            ["export function _nameprepTableB2(codepoint) {\n", "export function _nameprepTableB2(codepoint) {\n    __litIdnaTables();\n"],
            ["export function _nameprepTableC(codepoint) {\n", "export function _nameprepTableC(codepoint) {\n    __litIdnaTables();\n"],
        ],
    },
    {
        // @ethersproject/bignumber: create FixedNumber's constants ONE and BUMP (used by floor,
        // ceiling and round) on first use: ~0.5 ms per QuickJS context, paid by every path that
        // touches BigNumber otherwise.
        name: "lazy FixedNumber constants",
        file: /[\\/]@ethersproject[\\/]bignumber[\\/]lib\.esm[\\/]fixednumber\.js$/,
        edits: [
            [
                "const ONE = FixedNumber.from(1);\nconst BUMP = FixedNumber.from(\"0.5\");\n",
                "let ONE, BUMP;\n" +
                    "function __litOne() { return ONE || (ONE = FixedNumber.from(1)); }\n" +
                    "function __litBump() { return BUMP || (BUMP = FixedNumber.from(\"0.5\")); }\n",
            ],
            ["result = result.subUnsafe(ONE.toFormat(result.format));", "result = result.subUnsafe(__litOne().toFormat(result.format));"],
            ["result = result.addUnsafe(ONE.toFormat(result.format));", "result = result.addUnsafe(__litOne().toFormat(result.format));"],
            ["const bump = BUMP.toFormat(this.format);", "const bump = __litBump().toFormat(this.format);"],
        ],
    },
    {
        // scrypt-js reads the global `setTimeout` on every call, even for the synchronous
        // syncScrypt (Wallet.fromEncryptedJsonSync) that never schedules anything; the action
        // contexts have no timers. Look the timer up only when the async variant really yields.
        name: "scrypt-js timer lookup on use",
        file: /[\\/]scrypt-js[\\/]scrypt\.js$/,
        edits: [
            [
                "const nextTick = (typeof(setImmediate) !== 'undefined') ? setImmediate : setTimeout;",
                "const nextTick = (fn) => ((typeof(setImmediate) !== 'undefined') ? setImmediate : setTimeout)(fn);",
            ],
        ],
    },
];

// Applies SOURCE_EDITS (counting in `applied` the files each edit was applied to) and, in a trace
// build, makes every module call `__litNative.__trace(name)` when it is initialised; `untraced` are
// the paths to leave alone (modules a package's "browser" field disables, which must stay empty).
function sourcesPlugin(applied, trace, untraced) {
    return {
        name: "lit-sources",
        setup(build) {
            const edited = new RegExp(SOURCE_EDITS.map(({ file }) => file.source).join("|"));
            const filter = trace ? /\.c?js$/ : new RegExp(`${edited.source}|${ES_MODULE.source}`);
            build.onLoad({ filter, namespace: "file" }, async (args) => {
                if (untraced.has(args.path)) {
                    return undefined;
                }
                let source = await readFile(args.path, "utf8");
                for (const { name, file, edits } of SOURCE_EDITS) {
                    if (!file.test(args.path)) {
                        continue;
                    }
                    for (const [from, to] of edits) {
                        const count = source.split(from).length - 1;
                        if (count !== 1) {
                            throw new Error(`${name}: expected exactly one ${JSON.stringify(from.slice(0, 50))} in ${args.path}, found ${count}`);
                        }
                        source = source.replace(from, () => to);
                    }
                    applied.set(name, (applied.get(name) || 0) + 1);
                }
                if (ES_MODULE.test(args.path)) {
                    source = withModuleValues(source, args.path);
                }
                if (trace) {
                    source = withTrace(source, traceName(args.path));
                }
                return { contents: source, loader: "js" };
            });
        },
    };
}

// ES modules whose module-level values the host freezes when it shares one initialised ethers
// between runs: every file of ethers' packages (their browser ESM builds) and our shims. The
// CommonJS dependencies (bn.js, hash.js, aes-js, scrypt-js, bech32) keep their state in their own
// closures and hand out only what the ethers modules wrap.
const ES_MODULE = /[\\/](node_modules[\\/](@ethersproject[\\/][^\\/]+|ethers)[\\/]lib\.esm|js[\\/]ethers[\\/]shims)[\\/].*\.js$/;

// Names a module declares at its top level. These files are tsc output or our shims: a top-level
// declaration starts in column 0 and declares one name (destructuring fails the build).
export function topLevelNames(source, file) {
    const names = [];
    // Commented-out code (a column-0 `function` inside /* */) declares nothing.
    const code = source.replace(/\/\*[\s\S]*?\*\//g, "");
    for (const line of code.split("\n")) {
        if (/^(export\s+)?(const|let|var)\s*[{[]/.test(line)) {
            throw new Error(`${file}: destructuring at the top level is not supported: ${line}`);
        }
        const m = /^(?:export\s+)?(?:const|let|var|class|function\s*\*?|async\s+function\s*\*?)\s*([A-Za-z_$][\w$]*)/.exec(line);
        if (m) {
            names.push(m[1]);
        }
    }
    return [...new Set(names)];
}

// Appends to a module a call that hands the host a thunk of the module's top-level values
// (`__litNative.moduleValues`, optional: only the shared-ethers host asks for them). The host
// calls the thunks once everything is initialised and freezes what they return.
function withModuleValues(source, file) {
    const names = topLevelNames(source, file);
    if (names.length === 0) {
        return source;
    }
    return `${source}\n;if (typeof __litNative.moduleValues === "function") __litNative.moduleValues(() => [${names.join(", ")}]);\n`;
}

// The name a trace build reports for a module: its path under node_modules, or under the repo.
export function traceName(file) {
    const rel = path.relative(toolsModules, file);
    return (rel.startsWith("..") ? path.relative(repoRoot, file) : rel).split(path.sep).join("/");
}

// Inserts the trace call as the module's first statement, after a "use strict" directive (a
// statement before it would turn the directive into a plain string and the file sloppy).
function withTrace(source, name) {
    const prologue = /^(?:\s|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*(?:(["'])use strict\1;?)?/.exec(source)[0];
    return `${prologue}\n__litNative.__trace(${JSON.stringify(name)});\n${source.slice(prologue.length)}`;
}

// ---------------------------------------------------------------------------------------------------
// The generated entry.
//
// ethers' own entry (lib.esm/index.js -> ethers.js -> utils.js) imports every package statically,
// so evaluating it initialises all of ethers. The entry used instead is generated from those two
// files' import and export lists. It is a CommonJS module whose `ethers`, `ethers.ethers` and
// `ethers.utils` are objects of lazy getters (lazy-exports.js); a getter `require`s the "accessor"
// of the package holding its value and reads the value from it.
//
// The accessor of a package is a small generated ES module, `lit-lazy:<package>`: it imports by
// name every value the entry needs from that package and returns them in a plain object. Requiring
// an ES module makes esbuild wrap it, and everything it imports, in a lazy `__esm` initialiser, so
// no package runs until a getter does. Going through accessors instead of requiring the packages
// themselves matters: esbuild builds the namespace object of every required ES module, one getter
// closure per export, when the script starts; for all of ethers that alone costs ~0.3 ms per
// QuickJS context.
//
// Keys are in the order of real ethers (its CommonJS build, require("ethers") under Node); esbuild's
// and ES namespace objects would be sorted.

const ethersEsm = path.join(toolsModules, "ethers", "lib.esm");
const LAZY_EXPORTS = path.join(here, "lazy-exports.js");
const ACCESSOR = "lit-lazy:";

// Import bindings and the export list of one of ethers' re-export files. Only the shapes those
// generated files use are accepted; anything else fails the build.
function parseReexports(file) {
    const source = readFileSync(file, "utf8").replace(/\/\/[^\n]*/g, "");
    const bindings = new Map(); // local name -> { source, imported } ("*" for a namespace import)
    const bind = (local, from, imported) => {
        if (bindings.has(local)) {
            throw new Error(`${file}: ${local} is imported twice`);
        }
        bindings.set(local, { source: from, imported });
    };
    let rest = source;
    for (const m of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)";/g)) {
        for (const spec of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
            const parts = spec.split(/\s+as\s+/);
            bind(parts[parts.length - 1], m[2], parts[0]);
        }
        rest = rest.replace(m[0], "");
    }
    for (const m of source.matchAll(/import\s*\*\s*as\s+([\w$]+)\s+from\s*"([^"]+)";/g)) {
        bind(m[1], m[2], "*");
        rest = rest.replace(m[0], "");
    }
    const exportLists = [...rest.matchAll(/export\s*\{([^}]*)\};/g)];
    if (exportLists.length !== 1) {
        throw new Error(`${file}: expected one export list, found ${exportLists.length}`);
    }
    const exported = new Map(); // exported name -> local name
    for (const spec of exportLists[0][1].split(",").map((s) => s.trim()).filter(Boolean)) {
        const parts = spec.split(/\s+as\s+/);
        exported.set(parts[parts.length - 1], parts[0]);
    }
    rest = rest.replace(exportLists[0][0], "");
    // Whatever else the file does must be known: ethers.js creates its logger.
    const locals = new Map(); // local name -> { construct, argument } for `const x = new C(a);`
    for (const m of rest.matchAll(/const\s+([\w$]+)\s*=\s*new\s+([\w$]+)\(([\w$]+)\);/g)) {
        locals.set(m[1], { construct: m[2], argument: m[3] });
        rest = rest.replace(m[0], "");
    }
    if (rest.replace(/"use strict";/, "").trim() !== "") {
        throw new Error(`${file}: unexpected code: ${rest.trim().slice(0, 200)}`);
    }
    return { file, bindings, exported, locals };
}

function sameKeys(label, order, names) {
    const a = [...order].sort().join(",");
    const b = [...names].sort().join(",");
    if (a !== b) {
        throw new Error(`${label}: real ethers has keys ${a}, the ESM build exports ${b}`);
    }
}

// Generates the entry. `real` is ethers' CommonJS build (require("ethers") under Node), used only
// for the order of keys; every value comes from the ES modules being bundled. Returns the entry's
// source and, for each accessor, the package's export names it must import.
//
// The lazy objects are object literals with one getter per key: in QuickJS that costs a third of
// defining the same getters with Object.defineProperty (~30 us instead of ~100 us for utils' 99).
function generateEntry(real) {
    const ethersJs = parseReexports(path.join(ethersEsm, "ethers.js"));
    const utilsJs = parseReexports(path.join(ethersEsm, "utils.js"));
    const head = ['"use strict";', `const { exportsObject, namespaceCopy, once, settle } = require(${JSON.stringify(LAZY_EXPORTS)});`];
    const shared = []; // memoised values (namespaces, utils, logger): one object however many keys expose it
    const accessors = new Map(); // package specifier -> { variable, names: Set }
    const accessor = (specifier, names) => {
        if (!accessors.has(specifier)) {
            const variable = `$a${accessors.size}`;
            accessors.set(specifier, { variable, names: new Set() });
            head.push(`const ${variable} = once(() => require(${JSON.stringify(ACCESSOR + specifier)}).default());`);
        }
        const entry = accessors.get(specifier);
        names.forEach((name) => entry.names.add(name));
        return entry.variable;
    };
    // Source of a function that creates a lazy object with a getter for each key of `realObject`,
    // in its order; `value` gives the source of the expression for a key's value.
    const lazyObject = (variable, realObject, value) => {
        const getters = Object.keys(realObject).map((key) => {
            const k = JSON.stringify(key);
            return `        get ${k}() { return settle(${variable}, ${k}, ${value(key)}); },`;
        });
        return `() => {\n    const ${variable} = {\n        __esModule: true,\n${getters.join("\n")}\n    };\n    return exportsObject(${variable});\n}`;
    };
    // Source of the expression for the value of local binding `local` of `mod`; `realValue` is the
    // same value in real ethers (for the key order of namespaces).
    const memo = new Map();
    const valueOf = (mod, local, realValue) => {
        const memoKey = `${mod.file}#${local}`;
        if (memo.has(memoKey)) {
            return memo.get(memoKey);
        }
        const binding = mod.bindings.get(local);
        const made = mod.locals.get(local);
        let result;
        if (mod === ethersJs && binding && binding.source === "./utils" && binding.imported === "*") {
            sameKeys("ethers.utils", Object.keys(realValue), utilsJs.exported.keys());
            shared.push(`const $utils = once(${lazyObject("utils", realValue, (key) => valueOf(utilsJs, utilsJs.exported.get(key), realValue[key]))});`);
            result = "$utils()";
        } else if (binding && binding.imported === "*") {
            const order = Object.keys(realValue);
            shared.push(`const $ns_${local} = once(() => namespaceCopy(${accessor(binding.source, order)}(), ${JSON.stringify(order)}));`);
            result = `$ns_${local}()`;
        } else if (binding) {
            result = `${accessor(binding.source, [binding.imported])}()[${JSON.stringify(binding.imported)}]`;
        } else if (made) {
            shared.push(`const $new_${local} = once(() => new (${valueOf(mod, made.construct)})(${valueOf(mod, made.argument)}));`);
            result = `$new_${local}()`;
        } else {
            throw new Error(`${mod.file}: exports ${local}, which it neither imports nor creates`);
        }
        memo.set(memoKey, result);
        return result;
    };

    sameKeys("ethers.ethers", Object.keys(real.ethers), ethersJs.exported.keys());
    shared.push(`const $ethers = once(${lazyObject("ethers", real.ethers, (key) => valueOf(ethersJs, ethersJs.exported.get(key), real.ethers[key]))});`);
    // lib.esm/index.js: `export { ethers }` (the namespace of ethers.js), then everything ethers.js
    // exports.
    sameKeys("ethers", Object.keys(real), ["ethers", ...ethersJs.exported.keys()]);
    const root = lazyObject("root", real, (key) => (key === "ethers" ? "$ethers()" : valueOf(ethersJs, ethersJs.exported.get(key), real[key])));
    const source = [...head, ...shared, `module.exports = (${root})();`].join("\n") + "\n";
    return { source, accessors: new Map([...accessors].map(([specifier, { names }]) => [specifier, [...names]])) };
}

// Source of the accessor of `specifier`: imports `names` from it and returns them in an object.
function accessorSource(specifier, names) {
    const imports = names.map((name, i) => `${name} as $${i}`).join(", ");
    const fields = names.map((name, i) => `${JSON.stringify(name)}: $${i}`).join(", ");
    return `import { ${imports} } from ${JSON.stringify(specifier)};\nexport default function () {\n    return { ${fields} };\n}\n`;
}

// Serves the accessors (`lit-lazy:<package>`) of `accessors` (package specifier -> names).
function accessorsPlugin(accessors) {
    return {
        name: "lit-accessors",
        setup(build) {
            build.onResolve({ filter: /^lit-lazy:/ }, (args) => ({ path: args.path.slice(ACCESSOR.length), namespace: "lit-lazy" }));
            build.onLoad({ filter: /.*/, namespace: "lit-lazy" }, (args) => {
                if (!accessors.has(args.path)) {
                    return { errors: [{ text: `no accessor for ${args.path}` }] };
                }
                // resolveDir: ethers.js's relative imports ("./_version") resolve as from ethers.js.
                return { contents: accessorSource(args.path, accessors.get(args.path)), resolveDir: ethersEsm, loader: "js" };
            });
        },
    };
}

// Bundles ethers into `outFile`; returns { bytes, inputs } (output size, repo-relative inputs).
// Fails if a shim or a source edit did not take effect, or if the replaced libraries leaked in.
// `trace: true` makes a test build in which every module calls `__litNative.__trace(name)` when it
// is initialised (see test/lazy.mjs); it bundles the same modules.
export async function build(outFile, { trace = false } = {}) {
    const require = createRequire(path.join(toolsModules, "noop.js"));
    let esbuild;
    let real;
    try {
        esbuild = require("esbuild");
        require.resolve("ethers/lib.esm/index.js");
        real = require("ethers");
    } catch (err) {
        throw new Error(`esbuild or ethers missing from ${toolsModules} (run \`bash script/setup.sh\`): ${err.message}`);
    }
    const entry = generateEntry(real);
    const plugins = (applied, traced, untraced) => [nativeShimsPlugin(), accessorsPlugin(entry.accessors), sourcesPlugin(applied, traced, untraced)];
    const options = {
        absWorkingDir: repoRoot,
        stdin: { contents: entry.source, resolveDir: ethersEsm, sourcefile: "lit-ethers-entry.js", loader: "js" },
        outfile: outFile,
        bundle: true,
        format: "iife",
        globalName: "ethers",
        platform: "browser",
        define: { global: "globalThis" },
        minify: true,
        legalComments: "none",
        charset: "ascii",
        nodePaths: [toolsModules],
        banner: { js: BANNER },
        footer: { js: FOOTER },
        logLevel: "warning",
        metafile: true,
    };
    // A trace build first bundles without tracing, without output, to learn which modules are
    // disabled (esbuild tells only in the metafile): tracing must not bring them back to life.
    const untraced = new Set();
    if (trace) {
        const plain = await esbuild.build({ ...options, write: false, plugins: plugins(new Map(), false, untraced) });
        for (const input of Object.keys(plain.metafile.inputs)) {
            if (input.startsWith("(disabled):")) {
                untraced.add(path.resolve(repoRoot, input.slice("(disabled):".length)));
            }
        }
    }
    const applied = new Map();
    const result = await esbuild.build({ ...options, plugins: plugins(applied, trace, untraced) });
    const inputs = Object.keys(result.metafile.inputs);
    for (const shim of Object.values(NATIVE_SHIMS)) {
        if (!inputs.includes(path.relative(repoRoot, shim))) {
            throw new Error(`shim ${shim} was not used by the bundle`);
        }
    }
    for (const { name, files = 1 } of SOURCE_EDITS) {
        if (applied.get(name) !== files) {
            throw new Error(`source edit "${name}" applied to ${applied.get(name) || 0} files, expected ${files}`);
        }
    }
    const banned = /node_modules\/(elliptic|js-sha3|@ethersproject\/(signing-key\/lib\.esm\/(index|elliptic)|keccak256\/lib\.esm\/index|sha2\/lib\.esm\/(index|sha2))\.js)/;
    const leaked = inputs.filter((i) => banned.test(i));
    if (leaked.length) {
        throw new Error(`bundle still contains replaced code: ${leaked.join(", ")}`);
    }
    // Only the browser ESM builds belong in the bundle; a CommonJS build (lib/) would be a second,
    // Node-flavoured copy of a package.
    const cjs = inputs.filter((i) => /node_modules\/(@ethersproject\/[^/]+|ethers)\/lib\//.test(i));
    if (cjs.length) {
        throw new Error(`bundle contains CommonJS builds of ethers packages: ${cjs.join(", ")}`);
    }
    const outputs = Object.values(result.metafile.outputs);
    return { bytes: outputs[0].bytes, inputs };
}

const invokedDirectly = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
    const outFile = process.argv[2];
    if (!outFile || process.argv.length > 3) {
        console.error("usage: node js/ethers/build.mjs <out-file>");
        process.exit(2);
    }
    try {
        const { bytes } = await build(path.resolve(outFile));
        console.error(`ethers bundle: ${outFile} (${bytes} bytes)`);
    } catch (err) {
        console.error(err.message || err);
        process.exit(1);
    }
}
