// Per-run home of the few module-level variables of ethers that its functions change after
// initialisation (the Logger's level and censorship, warn-once flags, provider request ids). In
// lit-node one initialised ethers is shared, frozen, by every run of a worker (see
// src/actions/realm.rs); keeping these variables in the module would let one run change what the
// next one sees. The host's `__litNative.runState()` returns an object that belongs to the current
// run; without it (the Node test harnesses) they live here, as in ethers itself.
const local = {};

export function runState() {
    return typeof __litNative.runState === "function" ? __litNative.runState() : local;
}

// The next value of the counter `name`, starting at 1 (like ethers' `let nextId = 1; nextId++`).
export function nextId(name) {
    const state = runState();
    const value = state[name] === undefined ? 1 : state[name];
    state[name] = value + 1;
    return value;
}
