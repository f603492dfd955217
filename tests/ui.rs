//! Compile-time tests of the macros: what `#[derive(User)]` and `auth_backends!` accept, and
//! the exact error of every mistake they reject, pinned in `ui/<macro>/{pass,fail}`.

use std::process::Command;

/// The toolchain whose messages the `.stderr` files pin (see rust-toolchain.toml).
const PINNED: &str = "rustc 1.95.";

/// Compiles every case under `ui/`: `pass` cases must build and run, `fail` cases must fail
/// with the recorded `.stderr`. Compiler messages change between versions, so the cases run
/// only on the pinned toolchain. Regenerate the expected output with `TRYBUILD=overwrite`.
#[test]
fn ui() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = match Command::new(&rustc).arg("--version").output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Err(e) => format!(
            "unknown (`{} --version` failed: {e})",
            rustc.to_string_lossy()
        ),
    };
    if !version.starts_with(PINNED) {
        println!(
            "skipping the UI tests: their .stderr files pin the messages of {PINNED}x; this compiler is {version}"
        );
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.pass("ui/*/pass/*.rs");
    cases.compile_fail("ui/*/fail/*.rs");
}
