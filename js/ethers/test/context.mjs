// A fresh Node `vm` context holding only what lit-node's QuickJS action contexts provide: JS
// builtins, console, atob/btoa and crypto.getRandomValues (no require, process, Buffer, TextEncoder,
// window, timers). Console output is captured in `logs`, and the length of every atob input in
// `atobSizes` (how the tests see the ENS tables being decoded). Shared by verify.mjs and lazy.mjs.
import { atob as nodeAtob, btoa as nodeBtoa } from "node:buffer";
import { randomFillSync } from "node:crypto";
import vm from "node:vm";

export function makeContext() {
    const logs = [];
    const atobSizes = [];
    const log = (level) => (...args) => logs.push(`${level}: ${args.join(" ")}`);
    const ctx = vm.createContext({
        console: { log: log("log"), info: log("info"), warn: log("warn"), error: log("error"), debug: log("debug") },
        atob: (s) => {
            atobSizes.push(String(s).length);
            return nodeAtob(s);
        },
        btoa: (s) => nodeBtoa(s),
        crypto: { getRandomValues: (array) => randomFillSync(array) },
    });
    const globals = () => vm.runInContext("Object.getOwnPropertyNames(globalThis).sort().join(',')", ctx);
    return { ctx, logs, atobSizes, globals };
}
