//! The QuickJS side of imports: a resolver and a loader installed on every worker runtime, which
//! serve only while a run's static imports are being resolved (an [`Importing`] guard is alive on
//! the thread). Dynamic `import()` runs later, during evaluation, finds no session and is refused,
//! as the spec says.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::{Declared, WriteOptions};
use rquickjs::{qjs, Ctx, Error, Module};

use super::source::{ModuleSource, MAX_MODULES_PER_RUN};
use super::specifier;
use crate::actions::host::{Host, ImportDetail};

/// The name of the action's own module (its imports resolve with no importer URL).
pub const ACTION_MODULE: &str = "lit-action";

const NO_DYNAMIC_IMPORT: &str =
    "dynamic import() is not available in Lit Actions; use a static import of a pinned package";

/// One run's import state.
struct Session {
    source: ModuleSource,
    host: Rc<Host>,
    /// Inline integrities by URL, from the specifiers that named them.
    inline: RefCell<HashMap<String, String>>,
    /// Modules the node does not hold yet: (URL, inline integrity). They get an empty stand-in
    /// so that the rest of the imports are still found; the run then downloads them all without
    /// holding its thread and loads its imports again (see `modules::evaluate`).
    missing: RefCell<Vec<(String, Option<String>)>>,
}

/// What a run's module downloads gave, kept across its attempts at loading its imports.
#[derive(Debug, Default)]
pub struct Downloads {
    /// URLs downloaded (and verified) for this run: reported as from the network.
    pub fetched: std::collections::HashSet<String>,
    /// URLs whose download failed, with why: importing them fails with that.
    pub failed: HashMap<String, String>,
}

thread_local! {
    static SESSION: RefCell<Option<Rc<Session>>> = const { RefCell::new(None) };
}

fn session() -> Option<Rc<Session>> {
    SESSION.with(|s| s.borrow().clone())
}

/// While alive, the loader serves `host`'s run on this thread.
pub struct Importing(());

impl Importing {
    pub fn begin(source: ModuleSource, host: Rc<Host>) -> Self {
        let session = Rc::new(Session {
            source,
            host,
            inline: RefCell::default(),
            missing: RefCell::default(),
        });
        SESSION.with(|s| *s.borrow_mut() = Some(session));
        Importing(())
    }

    /// The modules found missing so far (see [`Session::missing`]).
    pub fn missing(&self) -> Vec<(String, Option<String>)> {
        session().map_or_else(Vec::new, |s| s.missing.borrow().clone())
    }
}

impl Drop for Importing {
    fn drop(&mut self) {
        SESSION.with(|s| *s.borrow_mut() = None);
    }
}

/// Resolves specifiers by the CDN rules ([`specifier::resolve`]).
pub struct CdnResolver;

impl Resolver for CdnResolver {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        // Called from QuickJS's C code: a panic must not unwind through it (see guard).
        crate::actions::guard::call(ctx, AssertUnwindSafe(|| resolve(base, name)))
    }
}

/// Names the module `name` imported from `base`: its CDN URL, remembering an inline integrity.
fn resolve(base: &str, name: &str) -> rquickjs::Result<String> {
    let Some(session) = session() else {
        return Err(Error::new_resolving_message(base, name, NO_DYNAMIC_IMPORT));
    };
    let importer = (base != ACTION_MODULE).then_some(base);
    let resolved = specifier::resolve(name, importer, session.source.cdn())
        .map_err(|e| Error::new_resolving_message(base, name, e.0))?;
    if let Some(inline) = resolved.inline_integrity {
        let mut known = session.inline.borrow_mut();
        match known.get(&resolved.url) {
            Some(other) if *other != inline => {
                return Err(Error::new_resolving_message(
                    base,
                    name,
                    format!(
                        "{} is imported with two different integrities",
                        resolved.url
                    ),
                ))
            }
            _ => {
                known.insert(resolved.url.clone(), inline);
            }
        }
    }
    Ok(resolved.url)
}

/// A module compiled once: its bytecode and the size of the source it came from.
struct Compiled {
    bytecode: Vec<u8>,
    source_bytes: usize,
}

/// Module bytecode by (URL, SHA-384 of its verified source), shared by every worker, so a module
/// is parsed once per process (bounded: 64 MiB of bytecode, least recently used evicted).
fn compiled() -> &'static moka::sync::Cache<(String, String), Arc<Compiled>> {
    static COMPILED: OnceLock<moka::sync::Cache<(String, String), Arc<Compiled>>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        moka::sync::Cache::builder()
            .weigher(|_, compiled: &Arc<Compiled>| {
                u32::try_from(compiled.bytecode.len()).unwrap_or(u32::MAX)
            })
            .max_capacity(64 * 1024 * 1024)
            .build()
    })
}

/// Forgets every compiled module, as a restart does (for tests that restart a node in-process).
pub fn forget_compiled() {
    compiled().invalidate_all();
}

thread_local! {
    /// The bytecode [`read_module`] reads next.
    static READING: RefCell<Option<Arc<Compiled>>> = const { RefCell::new(None) };
}

/// Reads the module bytecode left in [`READING`] into `ctx` (QuickJS's module-loading signature).
unsafe extern "C" fn read_module(
    ctx: *mut qjs::JSContext,
    _name: *const qjs::c_char,
) -> *mut qjs::JSModuleDef {
    let Some(compiled) = READING.with(|r| r.borrow_mut().take()) else {
        return std::ptr::null_mut();
    };
    let bytes = &compiled.bytecode;
    // SAFETY: the bytecode was written by this process's QuickJS from a module (see `load`);
    // without JS_READ_OBJ_ROM_DATA QuickJS copies what it keeps, so `bytes` may go afterwards.
    unsafe {
        let value = qjs::JS_ReadObject(
            ctx,
            bytes.as_ptr(),
            bytes.len() as _,
            qjs::JS_READ_OBJ_BYTECODE as i32,
        );
        if qjs::JS_IsException(value) {
            return std::ptr::null_mut();
        }
        if qjs::JS_VALUE_GET_TAG(value) != qjs::JS_TAG_MODULE {
            qjs::JS_FreeValue(ctx, value);
            return std::ptr::null_mut();
        }
        // The context's module list keeps the module; this value's reference is not needed (as
        // in QuickJS's own module loader).
        let module = qjs::JS_VALUE_GET_PTR(value).cast();
        qjs::JS_FreeValue(ctx, value);
        module
    }
}

/// Loads resolved URLs through the run's [`ModuleSource`], within the run's limits.
pub struct CdnLoader;

impl Loader for CdnLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        // Called from QuickJS's C code: a panic must not unwind through it (see guard).
        crate::actions::guard::call(ctx, AssertUnwindSafe(|| load(ctx, name)))
    }
}

/// The module at URL `name`: compiled bytecode when its hash is known and it was compiled before,
/// else its verified source from the node's cache, declared and compiled for later runs; else an
/// empty stand-in, and the URL is noted as missing.
fn load<'js>(ctx: &Ctx<'js>, name: &str) -> rquickjs::Result<Module<'js, Declared>> {
    let Some(session) = session() else {
        return Err(Error::new_loading_message(name, NO_DYNAMIC_IMPORT));
    };
    if let Some(why) = session.host.module_downloads.borrow().failed.get(name) {
        return Err(Error::new_loading_message(name, why));
    }
    if session.host.imports.borrow().len() + session.missing.borrow().len() >= MAX_MODULES_PER_RUN {
        return Err(Error::new_loading_message(
            name,
            format!("a run may load at most {MAX_MODULES_PER_RUN} modules"),
        ));
    }
    let from = if session
        .host
        .module_downloads
        .borrow()
        .fetched
        .contains(name)
    {
        "network"
    } else {
        "cache"
    };
    let inline = session.inline.borrow().get(name).cloned();
    // The hash the module must have (inline or pinned), read once for both caches below.
    let expected = session
        .source
        .expected(name, inline.as_deref())
        .map_err(|e| Error::new_loading_message(name, e))?;
    // A module known by its hash and compiled before is read as bytecode: its bytes were
    // checked against that hash when it was compiled.
    if let Some(expected) = &expected {
        let key = (name.to_string(), expected.integrity.clone());
        if let Some(compiled) = compiled().get(&key) {
            session.host.imports.borrow_mut().push(ImportDetail {
                url: name.to_string(),
                sha384: expected.integrity.clone(),
                size: compiled.source_bytes,
                from,
                bytecode: true,
            });
            READING.with(|r| *r.borrow_mut() = Some(compiled));
            // SAFETY: `read_module` returns a module it read into this very context, or null.
            return unsafe { Module::from_load_fn(ctx.clone(), name, read_module) };
        }
    }
    let cached = match &expected {
        Some(expected) => session
            .source
            .cached(name, expected)
            .map_err(|e| Error::new_loading_message(name, e))?,
        None => None,
    };
    let Some(loaded) = cached else {
        session
            .missing
            .borrow_mut()
            .push((name.to_string(), inline));
        return Module::declare(ctx.clone(), name, "");
    };
    session.host.imports.borrow_mut().push(ImportDetail {
        url: name.to_string(),
        sha384: loaded.integrity.clone(),
        size: loaded.source.len(),
        from,
        bytecode: false,
    });
    let source_bytes = loaded.source.len();
    let module = Module::declare(ctx.clone(), name, loaded.source)?;
    if let Ok(bytecode) = module.write(WriteOptions::default()) {
        compiled().insert(
            (name.to_string(), loaded.integrity),
            Arc::new(Compiled {
                bytecode,
                source_bytes,
            }),
        );
    }
    Ok(module)
}
