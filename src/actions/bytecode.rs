//! Precompiled JavaScript: sources the node itself ships (the prelude, the ethers bundle) are
//! compiled once per process to stripped QuickJS bytecode and loaded into each fresh context
//! without parsing. Bytecode is tied to this build's QuickJS, so it is produced at run time and
//! never stored.

use rquickjs::{Context, Ctx, Function, Module, Runtime, Value, WriteOptions};

/// Compiles `source`, a JavaScript expression, as the default export of module `name`.
pub fn compile_default_export(name: &str, source: &str) -> Result<Vec<u8>, String> {
    let runtime = Runtime::new().map_err(|e| e.to_string())?;
    let context = Context::full(&runtime).map_err(|e| e.to_string())?;
    context.with(|ctx| {
        let module = Module::declare(ctx.clone(), name, format!("export default {source}"))
            .map_err(|e| format!("{name} does not compile: {}", describe(&ctx, e)))?;
        module
            .write(WriteOptions {
                strip_debug: true,
                strip_source: true,
                ..Default::default()
            })
            .map_err(|e| e.to_string())
    })
}

/// `source` compiled by [`compile_default_export`] the first time it is asked for, kept in `cell`
/// for the life of the process.
pub fn compiled_once(
    cell: &'static std::sync::OnceLock<Result<Vec<u8>, String>>,
    name: &str,
    source: &str,
) -> Result<&'static [u8], String> {
    cell.get_or_init(|| compile_default_export(name, source))
        .as_deref()
        .map_err(Clone::clone)
}

fn describe(ctx: &Ctx<'_>, error: rquickjs::Error) -> String {
    match error {
        rquickjs::Error::Exception => format!("{:?}", ctx.catch()),
        other => other.to_string(),
    }
}

/// Loads bytecode from [`compile_default_export`] into `ctx` and returns the default export,
/// which must be a function.
pub fn load_default_export<'js>(
    ctx: &Ctx<'js>,
    bytecode: &[u8],
) -> rquickjs::Result<Function<'js>> {
    // SAFETY: `bytecode` was produced by `compile_default_export` in this process, i.e. by this
    // QuickJS build.
    let module = unsafe { Module::load(ctx.clone(), bytecode)? };
    let (module, _evaluated) = module.eval()?;
    let export: Value = module.namespace()?.get("default")?;
    export.into_function().ok_or_else(|| {
        rquickjs::Exception::throw_type(ctx, "precompiled module does not export a function")
    })
}
