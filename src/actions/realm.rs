//! A worker's shared ethers (spec/actions.md: `ethers` on first use). Loading ethers into every
//! run's fresh context cost more than the action itself (reading ~380 KB of bytecode, initialising
//! the modules a signer needs, then freeing it all). Instead each worker runtime keeps one extra
//! context, the *ethers realm*, in which all of ethers is loaded and initialised once and then
//! frozen (`realm.js`): every object an action could reach — ethers, its classes and prototypes,
//! the realm's own builtins — and every value ethers keeps in its modules. The few module variables
//! ethers changes after initialisation live in the current run's state instead (`runState`, see
//! js/ethers/shims/run-state.js), and the globals ethers reads (`fetch`, timers, `console`)
//! forward to the run that is calling. So a run can use ethers but cannot change anything another
//! run will see; each run still has its own fresh context and globals.

use std::cell::RefCell;
use std::rc::Rc;

use rand::RngCore;
use rquickjs::{Context, Ctx, Object, Persistent, Runtime, Value};

use super::bytecode::{self, load_script};
use super::js_bytes::random_uint8_array;

/// How many of the bundle's modules hand their values to the host (all of ethers' ES modules and
/// our shims: see `withModuleValues` in js/ethers/build.mjs). The realm checks that all of them
/// were initialised before it freezes them.
fn bundle_modules() -> usize {
    super::ethers::BUNDLE.matches("moduleValues(()=>").count()
}

/// The run currently using the realm: its global object (what `fetch`, timers and `console`
/// forward to) and its private state object (ethers' per-run module variables).
#[derive(Default)]
struct RunLink {
    run: RefCell<Option<LinkedRun>>,
}

struct LinkedRun {
    global: Persistent<Object<'static>>,
    state: Persistent<Object<'static>>,
}

/// One worker's ethers realm. Lives in the worker's runtime; dropped with it.
pub struct EthersRealm {
    link: Rc<RunLink>,
    ethers: Persistent<Value<'static>>,
    /// Bytes the runtime holds with the realm built: a run's memory limit comes on top of it.
    pub bytes: usize,
    /// Objects frozen when the realm was built.
    pub frozen_objects: usize,
    // Last: dropped after the values saved from it.
    _context: Context,
}

impl EthersRealm {
    /// Builds the realm in `runtime` from the compiled ethers bundle. Takes ~0.2 s (all of ethers,
    /// the ENS tables included); done by a worker when an action first needs ethers.
    pub fn build(runtime: &Runtime, ethers_bytecode: &[u8]) -> Result<Self, String> {
        let context = Context::full(runtime).map_err(|e| e.to_string())?;
        let link = Rc::new(RunLink::default());
        let (ethers, frozen_objects) = context.with(|ctx| {
            let fail = |e: rquickjs::Error| describe(&ctx, e);
            let setup = load_script(&ctx, bytecode::realm_setup()?).map_err(fail)?;
            let factory = load_script(&ctx, ethers_bytecode).map_err(fail)?;
            let native = realm_native(&ctx, &link).map_err(fail)?;
            let built: Object = setup
                .call((native, factory, bundle_modules()))
                .map_err(fail)?;
            let ethers: Value = built.get("ethers").map_err(fail)?;
            let objects: usize = built.get("objects").map_err(fail)?;
            Ok::<_, String>((Persistent::save(&ctx, ethers), objects))
        })?;
        runtime.run_gc();
        let bytes = usize::try_from(runtime.memory_usage().malloc_size).unwrap_or(0);
        Ok(Self {
            link,
            ethers,
            bytes,
            frozen_objects,
            _context: context,
        })
    }

    /// The shared `ethers` object, for a run's context in the same runtime.
    pub fn ethers<'js>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
        self.ethers.clone().restore(ctx)
    }

    /// Makes the run of `ctx` the one ethers serves: its globals and a fresh state object.
    pub fn link(&self, ctx: &Ctx<'_>) -> rquickjs::Result<()> {
        let global = Persistent::save(ctx, ctx.globals());
        let state = Persistent::save(ctx, Object::new(ctx.clone())?);
        *self.link.run.borrow_mut() = Some(LinkedRun { global, state });
        Ok(())
    }

    /// Ends the current run's link (releasing its context).
    pub fn unlink(&self) {
        self.link.run.borrow_mut().take();
    }
}

fn describe(ctx: &Ctx<'_>, error: rquickjs::Error) -> String {
    match error {
        rquickjs::Error::Exception => {
            let value = ctx.catch();
            let text = value
                .as_exception()
                .and_then(|e| e.message())
                .or_else(|| value.as_string().and_then(|s| s.to_string().ok()))
                .unwrap_or_else(|| format!("{value:?}"));
            format!("the ethers realm could not be built: {text}")
        }
        other => format!("the ethers realm could not be built: {other}"),
    }
}

/// The `native` object realm.js receives.
fn realm_native<'js>(ctx: &Ctx<'js>, link: &Rc<RunLink>) -> rquickjs::Result<Object<'js>> {
    let object = Object::new(ctx.clone())?;
    object.set("ethers", super::ethers::native(ctx)?)?;
    let l = link.clone();
    native!(
        object,
        ctx,
        "current",
        move |ctx: Ctx<'js>, name: String| {
            match &*l.run.borrow() {
                Some(run) => run.global.clone().restore(&ctx)?.get::<_, Value>(name),
                None => Ok(Value::new_undefined(ctx)),
            }
        }
    );
    let l = link.clone();
    native!(object, ctx, "runState", move |ctx: Ctx<'js>| {
        match &*l.run.borrow() {
            Some(run) => run.state.clone().restore(&ctx),
            // Outside a run (while the realm is built): state that is not kept.
            None => Object::new(ctx),
        }
    });
    native!(object, ctx, "randomBytes", |ctx: Ctx<'js>, len: usize| {
        random_uint8_array(&ctx, len)
    });
    native!(object, ctx, "random", |_ctx: Ctx<'js>| {
        // 53 random bits, as a double in [0, 1).
        Ok((rand::rngs::OsRng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    });
    Ok(object)
}
