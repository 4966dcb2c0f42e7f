// Builds the QuickJS-ready bundle of ethers@5.7.2 that lit-node evaluates in each action context.
//
//   node js/ethers/build.mjs <out-file>
//
// ethers, its dependencies and esbuild come from .tools/node_modules (installed by script/setup.sh,
// pinned by script/tools/package-lock.json). The bundle differs from ethers' own UMD build in these
// ways, all invisible to callers (js/ethers/test/verify.mjs checks it byte for byte):
//   - @ethersproject/keccak256, /signing-key and /sha2 are replaced by js/ethers/shims/*, which call
//     native host functions (see js/ethers/README.md for the contract);
//   - the ENS normalisation tables of @ethersproject/hash are decoded on first use instead of at load;
//   - scrypt-js looks up `setTimeout` only when its async variant yields (see SOURCE_EDITS);
//   - the script's completion value is a function `(__litNative) => ethers`: the host evaluates the
//     script, calls the function with its native object and installs the result as `ethers` itself.
//     Nothing is written to globalThis.
import { createRequire } from "node:module";
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

// Exact-text edits of a few dependency files. Every edit must match exactly once, so a different
// version of a dependency fails the build instead of silently losing the edit.
const SOURCE_EDITS = [
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

// Applies SOURCE_EDITS; records the names of the edits applied in `applied`.
function sourceEditsPlugin(applied) {
    return {
        name: "lit-source-edits",
        setup(build) {
            for (const { name, file, edits } of SOURCE_EDITS) {
                build.onLoad({ filter: file }, async (args) => {
                    let source = await readFile(args.path, "utf8");
                    for (const [from, to] of edits) {
                        const count = source.split(from).length - 1;
                        if (count !== 1) {
                            throw new Error(`${name}: expected exactly one ${JSON.stringify(from.slice(0, 50))} in ${args.path}, found ${count}`);
                        }
                        source = source.replace(from, () => to);
                    }
                    applied.add(name);
                    return { contents: source, loader: "js" };
                });
            }
        },
    };
}

// Bundles ethers into `outFile`; returns { bytes, inputs } (output size, repo-relative inputs).
// Fails if a shim or a source edit did not take effect, or if the replaced libraries leaked in.
export async function build(outFile) {
    const require = createRequire(path.join(toolsModules, "noop.js"));
    let esbuild;
    try {
        esbuild = require("esbuild");
        require.resolve("ethers/lib.esm/index.js");
    } catch (err) {
        throw new Error(`esbuild or ethers missing from ${toolsModules} (run \`bash script/setup.sh\`): ${err.message}`);
    }
    const applied = new Set();
    const result = await esbuild.build({
        absWorkingDir: repoRoot,
        entryPoints: [path.join(toolsModules, "ethers", "lib.esm", "index.js")],
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
        plugins: [nativeShimsPlugin(), sourceEditsPlugin(applied)],
        logLevel: "warning",
        metafile: true,
    });
    const inputs = Object.keys(result.metafile.inputs);
    for (const shim of Object.values(NATIVE_SHIMS)) {
        if (!inputs.includes(path.relative(repoRoot, shim))) {
            throw new Error(`shim ${shim} was not used by the bundle`);
        }
    }
    for (const { name } of SOURCE_EDITS) {
        if (!applied.has(name)) {
            throw new Error(`source edit "${name}" found no file to apply to`);
        }
    }
    const banned = /node_modules\/(elliptic|js-sha3|@ethersproject\/(signing-key\/lib\.esm\/(index|elliptic)|keccak256\/lib\.esm\/index|sha2\/lib\.esm\/(index|sha2))\.js)/;
    const leaked = inputs.filter((i) => banned.test(i));
    if (leaked.length) {
        throw new Error(`bundle still contains replaced code: ${leaked.join(", ")}`);
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
