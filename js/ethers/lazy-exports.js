// Runtime helpers of the bundle's generated entry (see generateEntry in build.mjs). The entry builds
// `ethers`, `ethers.ethers` and `ethers.utils` as objects whose properties are lazy getters; a
// getter initialises the modules that hold its value on first access, then `settle`s: it replaces
// itself with a data property. Calling the bundle's factory therefore initialises none of ethers'
// modules.
//
// CommonJS on purpose: for an ES module that the entry requires, esbuild would build a namespace
// object when the script starts.
"use strict";

// Taken when the factory runs, before any getter: an action replacing these builtins later does not
// change how the getters behave.
const defineProperty = Object.defineProperty;
const reflectDefineProperty = Reflect.defineProperty;

// Replaces the getter `key` of `target` with `value`, returns `value`. The property ends up like
// the exports of real ethers (CommonJS) behave: enumerable, read-only (real ethers has getters
// without setters), configurable. Reflect.defineProperty, not Object.defineProperty: if the caller
// froze `target` before this getter ran, keep returning the value instead of throwing.
function settle(target, key, value) {
    reflectDefineProperty(target, key, { value, enumerable: true, writable: false, configurable: true });
    return value;
}

// Turns an object literal's leading `__esModule: true` into the non-enumerable marker that ethers'
// CommonJS exports objects have (it keeps its place, first).
function exportsObject(target) {
    defineProperty(target, "__esModule", { enumerable: false, writable: false, configurable: false });
    return target;
}

// An exports object holding `values[key]` for each key of `order` (real ethers' order for a module
// namespace such as `ethers.constants`; ES namespaces are sorted).
function namespaceCopy(values, order) {
    const target = { __esModule: true };
    for (let i = 0; i < order.length; i++) {
        settle(target, order[i], values[order[i]]);
    }
    return exportsObject(target);
}

// Memoises a thunk: `load` runs on the first call only.
function once(load) {
    let done = false;
    let value;
    return () => {
        if (!done) {
            value = load();
            done = true;
        }
        return value;
    };
}

module.exports = { exportsObject, namespaceCopy, once, settle };
