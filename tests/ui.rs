//! Compile-time checks of the attribute macros: each `ui/fail` case is one mistake with the
//! error it must produce, each `ui/pass` case a handler shape that must keep compiling.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
