//! Globals made on first use (`console`, `TextEncoder`, `Blob`, …): every run defines them, few
//! runs touch them, so defining them must cost little. Each is an accessor pair of two native
//! functions (no JS closures, no descriptor objects to parse), defined straight on the global
//! object. The first read loads the global's chunk (`globals.js` or `web.js`, through the loader
//! functions the prelude passes) and turns the name into a plain global holding the value; a write
//! before any read makes it a plain global holding what was written. Either way it is then
//! writable, configurable and not enumerable, like the other globals.

use rquickjs::{qjs, Ctx, Function};

/// The lazy globals and the chunk each comes from: 0 = `globals.js`, 1 = `web.js`.
const LAZY_GLOBALS: &[(&str, usize)] = &[
    ("console", 0),
    ("crypto", 0),
    ("performance", 0),
    ("CryptoKey", 0),
    ("SubtleCrypto", 0),
    ("structuredClone", 0),
    ("TextEncoder", 1),
    ("TextDecoder", 1),
    ("URL", 1),
    ("URLSearchParams", 1),
    ("Headers", 1),
    ("Request", 1),
    ("Response", 1),
    ("Blob", 1),
    ("DOMException", 1),
    ("Event", 1),
    ("EventTarget", 1),
    ("AbortController", 1),
    ("AbortSignal", 1),
];

/// Defines every lazy global on `ctx`'s global object; `chunks[i]()` returns chunk `i`'s object,
/// whose property of the global's name is its value.
pub fn define<'js>(ctx: &Ctx<'js>, chunks: [Function<'js>; 2]) -> rquickjs::Result<()> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `raw` is the live context of `ctx`; every value created here is either handed to
    // QuickJS (which takes ownership) or freed before returning.
    unsafe {
        let global = qjs::JS_GetGlobalObject(raw);
        let mut result = Ok(());
        for (index, (name, chunk)) in LAZY_GLOBALS.iter().enumerate() {
            let mut data = [chunks[*chunk].as_raw()];
            let getter = qjs::JS_NewCFunctionData(
                raw,
                Some(lazy_get),
                0,
                index as i32,
                1,
                data.as_mut_ptr(),
            );
            let setter = qjs::JS_NewCFunctionData(
                raw,
                Some(lazy_set),
                1,
                index as i32,
                1,
                data.as_mut_ptr(),
            );
            let atom = qjs::JS_NewAtomLen(raw, name.as_ptr().cast(), name.len() as _);
            let defined = qjs::JS_DefinePropertyGetSet(
                raw,
                global,
                atom,
                getter,
                setter,
                qjs::JS_PROP_CONFIGURABLE as i32,
            );
            qjs::JS_FreeAtom(raw, atom);
            if defined < 0 {
                result = Err(rquickjs::Error::Exception);
                break;
            }
        }
        qjs::JS_FreeValue(raw, global);
        result
    }
}

/// The name of lazy global `index` (the native functions' magic number).
fn name_of(index: std::ffi::c_int) -> Option<&'static str> {
    let (name, _) = LAZY_GLOBALS.get(usize::try_from(index).ok()?)?;
    Some(name)
}

/// Makes global `index` a plain global holding `value` (taken). Returns a new reference to it.
///
/// # Safety
/// `ctx` must be a live context and `value` a value of it.
unsafe fn settle(ctx: *mut qjs::JSContext, index: i32, value: qjs::JSValue) -> qjs::JSValue {
    let Some(name) = name_of(index) else {
        return value;
    };
    let global = qjs::JS_GetGlobalObject(ctx);
    let atom = qjs::JS_NewAtomLen(ctx, name.as_ptr().cast(), name.len() as _);
    let flags = qjs::JS_PROP_WRITABLE | qjs::JS_PROP_CONFIGURABLE;
    // The action may have made the name non-configurable meanwhile; then it keeps its accessor.
    let _ = qjs::JS_DefinePropertyValue(
        ctx,
        global,
        atom,
        qjs::JS_DupValue(ctx, value),
        flags as i32,
    );
    qjs::JS_FreeAtom(ctx, atom);
    qjs::JS_FreeValue(ctx, global);
    value
}

/// The getter: loads the chunk, reads the name from it, and settles the global.
unsafe extern "C" fn lazy_get(
    ctx: *mut qjs::JSContext,
    _this: qjs::JSValue,
    _argc: std::ffi::c_int,
    _argv: *mut qjs::JSValue,
    magic: std::ffi::c_int,
    data: *mut qjs::JSValue,
) -> qjs::JSValue {
    let Some(name) = name_of(magic) else {
        return qjs::JS_UNDEFINED;
    };
    let chunk = qjs::JS_Call(ctx, *data, qjs::JS_UNDEFINED, 0, std::ptr::null_mut());
    if qjs::JS_IsException(chunk) {
        return chunk;
    }
    let atom = qjs::JS_NewAtomLen(ctx, name.as_ptr().cast(), name.len() as _);
    let value = qjs::JS_GetProperty(ctx, chunk, atom);
    qjs::JS_FreeAtom(ctx, atom);
    qjs::JS_FreeValue(ctx, chunk);
    if qjs::JS_IsException(value) {
        return value;
    }
    settle(ctx, magic, value)
}

/// The setter: the written value becomes the plain global.
unsafe extern "C" fn lazy_set(
    ctx: *mut qjs::JSContext,
    _this: qjs::JSValue,
    argc: std::ffi::c_int,
    argv: *mut qjs::JSValue,
    magic: std::ffi::c_int,
    _data: *mut qjs::JSValue,
) -> qjs::JSValue {
    let value = if argc > 0 {
        qjs::JS_DupValue(ctx, *argv)
    } else {
        qjs::JS_UNDEFINED
    };
    qjs::JS_FreeValue(ctx, settle(ctx, magic, value));
    qjs::JS_UNDEFINED
}
