// Builds the files of a local jsDelivr-style CDN for the module-import tests
// (tests/module_imports.rs): for each pinned npm package below (installed in .tools by
// script/setup.sh), `<out>/npm/<name>@<version>/+esm` is the package bundled to one ES module the
// way jsDelivr's `+esm` files are — minified, its own files inlined, every other package it
// imports left as an import of `/npm/<dep>@<version>/+esm`.
//
//   node js/cdn-fixture/build.mjs <out dir>
//
// Prints the list of files written as JSON: [{"path": "npm/zod@3.22.4/+esm", "bytes": N}, ...].
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.resolve(here, "../../.tools/node_modules");
const { build } = await import(path.join(modules, "esbuild/lib/main.js"));

export const PACKAGES = ["zod", "date-fns", "cbor-x", "uuid", "lodash-es", "superstruct"];

const versionOf = (name) => JSON.parse(readFileSync(path.join(modules, name, "package.json"), "utf8")).version;
const packageOf = (specifier) => {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
};

// Bare imports of other packages stay imports, of their `+esm` URL.
const cdnImports = (self) => ({
  name: "cdn-imports",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const name = packageOf(args.path);
      if (name === self) return undefined;
      return { path: `/npm/${name}@${versionOf(name)}/+esm`, external: true };
    });
  },
});

const out = process.argv[2];
if (!out) {
  console.error("usage: node js/cdn-fixture/build.mjs <out dir>");
  process.exit(2);
}
const written = [];
for (const name of PACKAGES) {
  const version = versionOf(name);
  const file = path.join(out, "npm", `${name}@${version}`, "+esm");
  mkdirSync(path.dirname(file), { recursive: true });
  const result = await build({
    stdin: { contents: `export * from "${name}";`, resolveDir: modules, loader: "js" },
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["import", "module", "browser", "default"],
    mainFields: ["module", "browser", "main"],
    minify: true,
    write: false,
    nodePaths: [modules],
    logLevel: "silent",
    plugins: [cdnImports(name)],
  });
  const text = result.outputFiles[0].text;
  writeFileSync(file, text);
  written.push({ path: `npm/${name}@${version}/+esm`, bytes: Buffer.byteLength(text) });
}
process.stdout.write(JSON.stringify(written));
