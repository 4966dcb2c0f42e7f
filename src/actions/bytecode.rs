//! Precompiled JavaScript: sources the node itself ships (the prelude, the web classes, the ethers
//! bundle and its realm setup), each a classic script whose value is a function, are compiled once
//! per process to stripped QuickJS bytecode and loaded into a context without parsing. Bytecode is tied to this build's QuickJS, so it is produced at run time and
//! never stored.

use std::sync::OnceLock;

use rquickjs::{qjs, Context, Ctx, Function, Runtime, Value};

/// The prelude every run loads (`prelude.js`); parsing it per run would cost more than the rest
/// of a hello-world run.
pub fn prelude() -> Result<&'static [u8], String> {
    static BYTECODE: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    compiled_once(&BYTECODE, "lit:prelude", include_str!("prelude.js"))
}

/// The web classes (`web.js`), loaded into a context on first use.
pub fn web() -> Result<&'static [u8], String> {
    static BYTECODE: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    compiled_once(&BYTECODE, "lit:web", include_str!("web.js"))
}

/// console, crypto, structuredClone and the `Lit` objects (`globals.js`), loaded into a context
/// on first use.
pub fn globals() -> Result<&'static [u8], String> {
    static BYTECODE: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    compiled_once(&BYTECODE, "lit:globals", include_str!("globals.js"))
}

/// `crypto.subtle` (`subtle.js`), loaded into a context when an action first reads it.
pub fn subtle() -> Result<&'static [u8], String> {
    static BYTECODE: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    compiled_once(&BYTECODE, "lit:subtle", include_str!("subtle.js"))
}

/// The ethers realm's setup (`realm.js`, see `realm`).
pub fn realm_setup() -> Result<&'static [u8], String> {
    static BYTECODE: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    compiled_once(&BYTECODE, "lit:realm", include_str!("realm.js"))
}

/// `source` compiled by [`compile_script`] the first time it is asked for, kept in `cell` for the
/// life of the process.
pub fn compiled_once(
    cell: &'static OnceLock<Result<Vec<u8>, String>>,
    name: &str,
    source: &str,
) -> Result<&'static [u8], String> {
    cell.get_or_init(|| compile_script(name, source))
        .as_deref()
        .map_err(Clone::clone)
}

fn describe(ctx: &Ctx<'_>, error: rquickjs::Error) -> String {
    match error {
        rquickjs::Error::Exception => format!("{:?}", ctx.catch()),
        other => other.to_string(),
    }
}

/// Compiles `source`, a classic script whose completion value is a function, to stripped
/// bytecode. Loading a script is much cheaper than loading a module (no module record, linking or
/// evaluation promise), which matters for what every run loads.
pub fn compile_script(name: &str, source: &str) -> Result<Vec<u8>, String> {
    let runtime = Runtime::new().map_err(|e| e.to_string())?;
    let context = Context::full(&runtime).map_err(|e| e.to_string())?;
    let source_c = std::ffi::CString::new(source).map_err(|_| format!("{name} contains NUL"))?;
    let name_c = std::ffi::CString::new(name).map_err(|_| format!("{name}: bad name"))?;
    context.with(|ctx| {
        let raw = ctx.as_raw().as_ptr();
        // SAFETY: `raw` is the live context of this closure; the source and name are NUL-terminated
        // and outlive the call; the returned value is owned by `compiled` from here on.
        let compiled = unsafe {
            Value::from_raw(
                ctx.clone(),
                qjs::JS_Eval(
                    raw,
                    source_c.as_ptr(),
                    source.len() as _,
                    name_c.as_ptr(),
                    (qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32,
                ),
            )
        };
        if compiled.is_exception() {
            return Err(format!(
                "{name} does not compile: {}",
                describe(&ctx, rquickjs::Error::Exception)
            ));
        }
        let mut size = 0;
        let flags = qjs::JS_WRITE_OBJ_BYTECODE
            | qjs::JS_WRITE_OBJ_STRIP_SOURCE
            | qjs::JS_WRITE_OBJ_STRIP_DEBUG;
        // SAFETY: writes the compiled function into a buffer QuickJS allocates; freed below.
        let buffer =
            unsafe { qjs::JS_WriteObject(raw, &mut size, compiled.as_raw(), flags as i32) };
        if buffer.is_null() {
            return Err(format!("{name}: bytecode could not be written"));
        }
        // SAFETY: `buffer` holds `size` bytes written by JS_WriteObject.
        let bytes = unsafe { std::slice::from_raw_parts(buffer, size as usize) }.to_vec();
        // SAFETY: allocated by QuickJS for this context.
        unsafe { qjs::js_free(raw, buffer.cast()) };
        Ok(bytes)
    })
}

/// Runs script bytecode from [`compile_script`] in `ctx` and returns its completion value, which
/// must be a function.
pub fn load_script<'js>(ctx: &Ctx<'js>, bytecode: &[u8]) -> rquickjs::Result<Function<'js>> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `bytecode` was produced by `compile_script` in this process (this QuickJS build);
    // JS_EvalFunction takes ownership of the function read, and the result is owned by `value`.
    let value = unsafe {
        let function = qjs::JS_ReadObject(
            raw,
            bytecode.as_ptr(),
            bytecode.len() as _,
            qjs::JS_READ_OBJ_BYTECODE as i32,
        );
        if qjs::JS_IsException(function) {
            return Err(rquickjs::Error::Exception);
        }
        Value::from_raw(ctx.clone(), qjs::JS_EvalFunction(raw, function))
    };
    if value.is_exception() {
        return Err(rquickjs::Error::Exception);
    }
    value.into_function().ok_or_else(|| {
        rquickjs::Exception::throw_type(ctx, "precompiled script does not evaluate to a function")
    })
}
