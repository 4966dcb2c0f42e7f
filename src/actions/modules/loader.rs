//! The QuickJS side of imports: a resolver and a loader installed on every worker runtime, which
//! serve only while a run's static imports are being resolved (an [`Importing`] guard is alive on
//! the thread). Dynamic `import()` runs later, during evaluation, finds no session and is refused,
//! as the spec says.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Ctx, Error, Module};

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
        });
        SESSION.with(|s| *s.borrow_mut() = Some(session));
        Importing(())
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
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
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
        let Some(session) = session() else {
            return Err(Error::new_loading_message(name, NO_DYNAMIC_IMPORT));
        };
        if session.host.imports.borrow().len() >= MAX_MODULES_PER_RUN {
            return Err(Error::new_loading_message(
                name,
                format!("a run may load at most {MAX_MODULES_PER_RUN} modules"),
            ));
        }
        let inline = session.inline.borrow().get(name).cloned();
        let loaded = session
            .source
            .load(name, inline.as_deref(), session.host.deadline)
            .map_err(|e| Error::new_loading_message(name, e))?;
        session.host.imports.borrow_mut().push(ImportDetail {
            url: name.to_string(),
            sha384: loaded.integrity.clone(),
            size: loaded.source.len(),
            from: loaded.origin.as_str(),
        });
        Module::declare(ctx.clone(), name, loaded.source)
    }
}
