//! ES module imports for Lit Actions: pinned npm packages from the node's CDN (jsDelivr layout),
//! checked by SHA-384 (an inline `#sha384-…`, the node's pin, or trust on first use), cached in
//! the store. [`specifier`] says where an import leads, [`integrity`] checks bytes, [`source`]
//! fetches, verifies, pins and caches, [`loader`] plugs that into QuickJS for one run's static
//! imports. Code with no `import`/`export` statement keeps the classic-script path.

pub mod integrity;
pub mod loader;
pub mod lock;
pub mod source;
pub mod specifier;

use std::rc::Rc;

use rquickjs::{qjs, Ctx, Object, Value};

use super::host::Host;
use loader::{Importing, ACTION_MODULE};
use source::ModuleSource;

/// Whether the action's code is an ES module: a line that starts with an `import` declaration
/// (`import x from`, `import {`, `import *`, `import "…"`) or an `export`. Dynamic `import(` and
/// `import.meta` do not count.
pub fn looks_like_module(code: &str) -> bool {
    code.lines().any(|line| {
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix("import") {
            return matches!(rest.chars().next(), Some(c) if c.is_whitespace() || matches!(c, '{' | '*' | '"' | '\''));
        }
        if let Some(rest) = line.strip_prefix("export") {
            return matches!(rest.chars().next(), Some(c) if c.is_whitespace() || matches!(c, '{' | '*'));
        }
        false
    })
}

/// Appended to the action's module: hands the run its `main` whether it is a function
/// declaration, a `const`/`let` or exported (the module's own binding, read after evaluation).
const MAIN_EXPORT: &str =
    "\n;export const __litMain = () => (typeof main === \"undefined\" ? undefined : main);\n";

/// How far [`evaluate`] got.
pub enum Evaluated<'js> {
    /// The module's evaluation started: its promise, and the module's namespace (whose
    /// `__litMain()` gives `main`).
    Started(Value<'js>, Object<'js>),
    /// Imports the node does not hold yet, (URL, inline integrity): nothing of the action ran.
    /// Once they are downloaded the run tries again in a fresh context.
    Missing(Vec<(String, Option<String>)>),
}

/// Compiles the action's code as a module, loads its static imports (the only time the loader
/// serves), then starts its evaluation.
pub fn evaluate<'js>(
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    source: &ModuleSource,
) -> rquickjs::Result<Evaluated<'js>> {
    // What an earlier attempt loaded was in the context it left behind.
    host.imports.borrow_mut().clear();
    let code = format!("{}{MAIN_EXPORT}", host.input.code);
    let raw = ctx.as_raw().as_ptr();
    let name = std::ffi::CString::new(ACTION_MODULE).expect("no NUL");
    let code_c = std::ffi::CString::new(code.as_bytes())
        .map_err(|_| rquickjs::Exception::throw_syntax(ctx, "the code contains a NUL character"))?;
    // The loader serves from here until the static imports are loaded: QuickJS names imported
    // modules while it compiles, and loads them in JS_ResolveModule.
    let importing = Importing::begin(source.clone(), host.clone());
    // SAFETY: `raw` is this closure's live context; source and name are NUL-terminated and
    // outlive the call. The result is a module value we own (freed by JS_EvalFunction below).
    let module = unsafe {
        qjs::JS_Eval(
            raw,
            code_c.as_ptr(),
            code.len() as _,
            name.as_ptr(),
            (qjs::JS_EVAL_TYPE_MODULE | qjs::JS_EVAL_FLAG_STRICT | qjs::JS_EVAL_FLAG_COMPILE_ONLY)
                as i32,
        )
    };
    if unsafe { qjs::JS_IsException(module) } {
        return Err(rquickjs::Error::Exception);
    }
    // SAFETY: a module value's pointer is its JSModuleDef, alive while `module` is.
    let definition = unsafe { qjs::JS_VALUE_GET_PTR(module) }.cast::<qjs::JSModuleDef>();
    // SAFETY: `module` is a live compiled module of this context (borrowed, not consumed).
    let resolved = unsafe { qjs::JS_ResolveModule(raw, module) };
    let missing = importing.missing();
    // From here on (evaluation), an import() finds no session and is refused.
    drop(importing);
    if resolved < 0 || !missing.is_empty() {
        // SAFETY: we still own `module`.
        unsafe { qjs::JS_FreeValue(raw, module) };
        if resolved < 0 {
            return Err(rquickjs::Error::Exception);
        }
        return Ok(Evaluated::Missing(missing));
    }
    // SAFETY: JS_EvalFunction consumes `module` (links and evaluates it); the module record stays
    // alive in the context's module list, so its namespace can be read afterwards.
    let promise = unsafe { Value::from_raw(ctx.clone(), qjs::JS_EvalFunction(raw, module)) };
    if promise.is_exception() {
        return Err(rquickjs::Error::Exception);
    }
    // SAFETY: `definition` belongs to this context and is kept alive by its module list.
    let namespace =
        unsafe { Value::from_raw(ctx.clone(), qjs::JS_GetModuleNamespace(raw, definition)) };
    if namespace.is_exception() {
        return Err(rquickjs::Error::Exception);
    }
    let namespace = namespace.into_object().ok_or_else(|| {
        rquickjs::Exception::throw_internal(ctx, "a module namespace is not an object")
    })?;
    Ok(Evaluated::Started(promise, namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_code_is_told_apart_from_scripts() {
        assert!(looks_like_module(
            "import { z } from \"zod@3.22.4\";\nasync function main() {}"
        ));
        assert!(looks_like_module("  import * as d from 'date-fns@3.6.0';"));
        assert!(looks_like_module("import 'x@1.0.0';"));
        assert!(looks_like_module("export async function main() {}"));
        assert!(looks_like_module("const a = 1;\nexport { a };"));
        assert!(!looks_like_module(
            "async function main() { return 'import me'; }"
        ));
        assert!(!looks_like_module("const m = import('x');"));
        assert!(!looks_like_module("const important = 1; // exporter"));
        assert!(!looks_like_module("importScripts();"));
    }
}
