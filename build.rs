//! Records the compiler's version, so that `payforge check` can tell whether the allocation
//! baselines were blessed with the toolchain it runs on (counts are exact only for one), and the
//! cargo profile, so that `payforge instructions` compares counts of one build only.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "rustc (unknown version)".to_owned());
    println!("cargo:rustc-env=PAYFORGE_RUSTC_VERSION={version}");
    // The cargo profile this build uses (`release`, `instructions`, `debug`, ...): cargo gives
    // build scripts only `debug` or `release`, so read it from the output directory,
    // `<target>/[<triple>/]<profile>/build/<package>-<hash>/out`.
    let profile = std::env::var("OUT_DIR")
        .ok()
        .and_then(|dir| {
            std::path::Path::new(&dir)
                .ancestors()
                .nth(3)
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .or_else(|| std::env::var("PROFILE").ok())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PAYFORGE_PROFILE={profile}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
