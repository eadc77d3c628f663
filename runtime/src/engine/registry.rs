//! The action names the `#[authorize]` attributes of a program use, collected at start (each
//! attribute registers its own with `inventory`), so that an engine that knows its actions (a
//! Cedar schema) refuses an unknown one when it is built, before the first request.

/// One action an `#[authorize]` attribute uses; the macros register one per attribute.
#[derive(Debug)]
pub struct RegisteredAction {
    /// The action's name.
    pub action: &'static str,
    /// The handler's path (module and function), for the error that names it.
    pub handler: &'static str,
}

inventory::collect!(RegisteredAction);

/// Every action the `#[authorize]` attributes of this program use, once per attribute, in no
/// particular order.
pub fn registered_actions() -> impl Iterator<Item = &'static RegisteredAction> {
    inventory::iter::<RegisteredAction>.into_iter()
}
