// Proves that the QuickJS ethers bundle (js/ethers/build.mjs) initialises its modules lazily, and
// that the lazy `ethers` has real ethers' shape. Run by verify.mjs, or alone:
//
//   node js/ethers/test/lazy.mjs [bundle.js]
//
// Module initialisation is observed in a trace build of the same sources (build(out, { trace: true
// }): every module first calls `__litNative.__trace(name)`), after checking that it bundles exactly
// the same modules as the real build. Checked, each in a fresh QuickJS-like vm context:
//   - calling the factory initialises no ethers module (only the entry's helpers, lazy-exports.js);
//   - common action paths (Wallet.signMessage, verifyMessage, keccak256, arrayify, BigNumber)
//     initialise only what they need: never providers, contracts, abi, ...;
//   - touching every export (and decrypting a JSON wallet) initialises every module of
//     the bundle, each exactly once;
//   - Object.keys of ethers, ethers.ethers, ethers.utils, constants, providers, errors, utils.base64
//     and utils.RLP are real ethers' (order included), values are shared where real ethers shares
//     them, and each lazy getter becomes a plain read-only data property on first access.
// It also prints the factory and first signMessage times of the bundle under test (or of the
// bundle given on the command line) in a Node vm: indicative only, V8 is not QuickJS.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { build, toolsModules } from "../build.mjs";
import { makeContext } from "./context.mjs";
import { createNodeNative } from "./native-node.mjs";

const require = createRequire(path.join(toolsModules, "noop.js"));

const PK = "0x0123456789012345678901234567890123456789012345678901234567890123";
const MESSAGE = "hello from a Lit Action";

// Modules a signer path has no business initialising.
const NOT_FOR_SIGNING = /^@ethersproject\/(providers|contracts|abi|networks|web|units|solidity)\//;

// What the small paths may initialise, beyond the entry's helpers.
const LAZY_EXPORTS = "js/ethers/lazy-exports.js";
// The logger keeps its settings in js/ethers/shims/run-state.js.
const ONLY_BYTES = /^(@ethersproject\/(logger|bytes)\/lib\.esm\/|js\/ethers\/shims\/run-state\.js$)/;
const ONLY_KECCAK = /^(@ethersproject\/(logger|bytes)\/lib\.esm\/|js\/ethers\/shims\/(keccak256|run-state)\.js$)/;
const ONLY_BIGNUMBER = /^(@ethersproject\/(logger|bytes|bignumber)\/lib\.esm\/|bn\.js\/|js\/ethers\/shims\/run-state\.js$)/;

// Loads `code` into a fresh QuickJS-like context with the reference native interface; `trace`
// receives the name of each module as it initialises. Returns the ethers object and timings.
function load(code, trace = () => {}) {
    const env = makeContext();
    const { native } = createNodeNative(vm.runInContext("Uint8Array", env.ctx));
    const factory = vm.runInContext(code, env.ctx, { filename: "lit-ethers.js" });
    const t0 = performance.now();
    const ethers = factory({ ...native, __trace: trace });
    return { ethers, factoryMs: performance.now() - t0, env };
}

// Reads every export, two levels down (ethers.X, ethers.utils.Y, ethers.constants.Z, ...).
function touchAll(root) {
    const seen = new Set();
    const walk = (value, depth) => {
        if (depth > 2 || value === null || (typeof value !== "object" && typeof value !== "function") || seen.has(value)) {
            return;
        }
        seen.add(value);
        for (const key of Object.keys(value)) {
            walk(value[key], depth + 1);
        }
    };
    walk(root, 0);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Runs the checks. `code` is the bundle to time (null: the build made here), `inputs` the module
// list of its build (null: build it here). Returns { checks, failures: [name, detail][], lines }.
export async function checkLazy({ code = null, inputs = null } = {}) {
    const failures = [];
    const lines = [];
    let checks = 0;
    const assert = (cond, name, detail = "") => {
        checks++;
        if (!cond) {
            failures.push([name, detail || "assertion failed"]);
        }
        return cond;
    };
    const R = require("ethers");

    const tmp = mkdtempSync(path.join(os.tmpdir(), "lit-ethers-lazy-"));
    let traced;
    try {
        const traceBuild = await build(path.join(tmp, "traced.js"), { trace: true });
        traced = readFileSync(path.join(tmp, "traced.js"), "utf8");
        if (!inputs || !code) {
            const plain = await build(path.join(tmp, "plain.js"));
            inputs = inputs || plain.inputs;
            code = code || readFileSync(path.join(tmp, "plain.js"), "utf8");
        }
        assert(JSON.stringify(traceBuild.inputs) === JSON.stringify(inputs), "trace build bundles the same modules", `trace: ${traceBuild.inputs}\nreal: ${inputs}`);
    } finally {
        rmSync(tmp, { recursive: true, force: true });
    }
    const allModules = [...new Set([...traced.matchAll(/__litNative\.__trace\("([^"]+)"\)/g)].map((m) => m[1]))];

    // Runs `use(ethers)` after the factory in a fresh traced context; returns the modules the factory
    // initialised and those the use did.
    const scenario = async (use) => {
        const inited = [];
        const { ethers } = load(traced, (name) => inited.push(name));
        const atFactory = inited.length;
        const value = await use(ethers);
        return { factory: inited.slice(0, atFactory), used: inited.slice(atFactory), value, ethers };
    };
    const report = (label, modules) => lines.push(`  ${label}: ${modules.length} modules`);

    lines.push(`lazy initialisation (trace build, ${allModules.length} modules in the bundle):`);
    const idle = await scenario(() => null);
    report("factory call", idle.factory);
    assert(JSON.stringify(idle.factory) === JSON.stringify([LAZY_EXPORTS]), "factory initialises no ethers module", idle.factory.join(", "));

    const signed = await scenario((e) => new e.Wallet(PK).signMessage(MESSAGE));
    report("+ new Wallet(k).signMessage(m)", signed.used);
    assert(signed.value === (await new R.Wallet(PK).signMessage(MESSAGE)), "traced Wallet.signMessage signs like ethers", String(signed.value));
    const badForSigning = signed.used.filter((m) => NOT_FOR_SIGNING.test(m));
    assert(badForSigning.length === 0, "Wallet.signMessage initialises no provider/contract/abi module", badForSigning.join(", "));

    const sig = await new R.Wallet(PK).signMessage(MESSAGE);
    const verified = await scenario((e) => e.utils.verifyMessage(MESSAGE, sig));
    report("+ utils.verifyMessage", verified.used);
    assert(verified.value === new R.Wallet(PK).address, "traced verifyMessage recovers the address", String(verified.value));
    const badForVerifying = verified.used.filter((m) => NOT_FOR_SIGNING.test(m));
    assert(badForVerifying.length === 0, "verifyMessage initialises no provider/contract/abi module", badForVerifying.join(", "));

    for (const [label, use, allowed, expected] of [
        ["utils.keccak256", (e) => e.utils.keccak256("0x1234"), ONLY_KECCAK, R.utils.keccak256("0x1234")],
        ["utils.arrayify", (e) => e.utils.hexlify(e.utils.arrayify("0x1234")), ONLY_BYTES, "0x1234"],
        ["BigNumber.from", (e) => e.BigNumber.from("1234").add(1).toString(), ONLY_BIGNUMBER, "1235"],
    ]) {
        const run = await scenario(use);
        report(`+ ${label}`, run.used);
        assert(run.value === expected, `traced ${label} value`, String(run.value));
        const extra = run.used.filter((m) => !allowed.test(m));
        assert(extra.length === 0, `${label} initialises only what it needs`, extra.join(", "));
    }

    // Touching every export, then decrypting a JSON wallet (its scrypt and AES paths).
    const json = await new R.Wallet(PK).encrypt("pw", { scrypt: { N: 1 << 4 } });
    const everything = await scenario((e) => {
        touchAll(e);
        return e.Wallet.fromEncryptedJsonSync(json, "pw").address;
    });
    report("+ touching every export and decrypting a JSON wallet", everything.used);
    assert(everything.value === new R.Wallet(PK).address, "traced fromEncryptedJsonSync", String(everything.value));
    const counts = new Map();
    for (const m of [...everything.factory, ...everything.used]) {
        counts.set(m, (counts.get(m) || 0) + 1);
    }
    const missing = allModules.filter((m) => !counts.has(m));
    const twice = [...counts].filter(([, n]) => n !== 1).map(([m]) => m);
    assert(missing.length === 0, "touching every export initialises every module", missing.join(", "));
    assert(twice.length === 0, "every module initialises once", twice.join(", "));

    // Shape, in a fresh context: keys before and after the getters ran, sharing, descriptors.
    const { ethers: B } = load(code);
    const paths = {
        ethers: (e) => e,
        "ethers.ethers": (e) => e.ethers,
        "ethers.utils": (e) => e.utils,
        "ethers.constants": (e) => e.constants,
        "ethers.providers": (e) => e.providers,
        "ethers.errors": (e) => e.errors,
        "ethers.utils.base64": (e) => e.utils.base64,
        "ethers.utils.RLP": (e) => e.utils.RLP,
    };
    const accessorsOf = (o) => Object.keys(o).filter((k) => typeof Object.getOwnPropertyDescriptor(o, k).get === "function");
    assert(accessorsOf(B).length === Object.keys(R).length, "ethers starts with lazy getters", `accessors: ${accessorsOf(B)}`);
    for (const when of ["before use", "after use"]) {
        for (const [label, get] of Object.entries(paths)) {
            const keys = Object.keys(get(B)).join(",");
            assert(keys === Object.keys(get(R)).join(","), `Object.keys(${label}) ${when}`, `bundle: ${keys}\nethers: ${Object.keys(get(R)).join(",")}`);
        }
        assert(Object.keys(B.wordlists).join(",") === "en", `ethers.wordlists is English only ${when}`, Object.keys(B.wordlists).join(","));
        touchAll(B);
    }
    for (const label of ["ethers", "ethers.ethers", "ethers.utils", "ethers.constants", "ethers.providers", "ethers.utils.base64", "ethers.utils.RLP"]) {
        const object = paths[label](B);
        const wrong = Object.keys(object).filter((k) => {
            const d = Object.getOwnPropertyDescriptor(object, k);
            return !("value" in d) || !d.enumerable || d.writable;
        });
        assert(wrong.length === 0, `${label}: getters became read-only data properties`, wrong.join(", "));
        const marker = JSON.stringify(Object.getOwnPropertyDescriptor(object, "__esModule"));
        assert(marker === JSON.stringify(Object.getOwnPropertyDescriptor(paths[label](R), "__esModule")), `${label}.__esModule like ethers`, marker);
    }
    for (const key of Object.keys(R.ethers)) {
        assert(B.ethers[key] === B[key], `ethers.ethers.${key} === ethers.${key}`);
    }
    assert(B.utils.Logger === B.ethers.utils.Logger && B.logger instanceof B.utils.Logger, "ethers.logger is a Logger");
    assert(B.logger.version === R.logger.version && B.version === R.version, "ethers.logger.version and ethers.version", `${B.logger.version} ${B.version}`);
    assert(B.constants.Two.toString() === "2" && B.utils.RLP.encode === B.utils.RLP.encode, "namespace values");

    // Getters still answer on an object frozen before they ran (they cannot settle then).
    {
        const { ethers } = load(code);
        Object.freeze(ethers);
        const utils = Object.freeze(ethers.utils);
        const ok = utils.keccak256("0x") === R.utils.keccak256("0x") && utils.keccak256 === ethers.utils.keccak256 && ethers.BigNumber === ethers.BigNumber;
        assert(ok, "lazy getters work on frozen objects");
    }

    // Timing of the bundle under test (Node vm; indicative only).
    const factoryMs = [];
    const signMs = [];
    for (let i = 0; i < 10; i++) {
        const { ethers, factoryMs: ms } = load(code);
        factoryMs.push(ms);
        const t = performance.now();
        await new ethers.Wallet(PK).signMessage(MESSAGE);
        signMs.push(performance.now() - t);
    }
    lines.push(`factory call in a fresh Node vm context: ${median(factoryMs).toFixed(2)} ms; first Wallet.signMessage there: ${median(signMs).toFixed(2)} ms (medians of 10; V8, not QuickJS)`);
    return { checks, failures, lines };
}

const invokedDirectly = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
    const code = process.argv[2] ? readFileSync(process.argv[2], "utf8") : null;
    const { checks, failures, lines } = await checkLazy({ code, inputs: null });
    console.log(lines.join("\n"));
    for (const [name, detail] of failures) {
        console.error(`FAIL ${name}: ${detail}`);
    }
    if (failures.length) {
        console.error(`lazy ethers: ${failures.length} of ${checks} checks FAILED`);
        process.exit(1);
    }
    console.log(`lazy ethers: all ${checks} checks passed`);
}
