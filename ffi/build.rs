//! Finds libblkid and librados with pkg-config and fails early with an install hint
//! instead of a linker error.
use std::process::Command;

fn pkg(name: &str, min: &str, hint: &str) {
    let ok = Command::new("pkg-config")
        .args(["--atleast-version", min, name])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        println!(
            "cargo::error=At least version {min} of {name} is required (pkg-config {name}); install it with scripts/install-deps or `apt-get install {hint}`"
        );
        return;
    }
    if let Ok(out) = Command::new("pkg-config").args(["--libs", name]).output() {
        for flag in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Some(lib) = flag.strip_prefix("-l") {
                println!("cargo::rustc-link-lib={lib}");
            } else if let Some(dir) = flag.strip_prefix("-L") {
                println!("cargo::rustc-link-search=native={dir}");
            }
        }
    }
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    pkg("blkid", "2.32.0", "libblkid-dev");
    // librados is loaded at run time (dlopen, see src/rados.rs); its -dev package is still
    // required so the C API the bindings follow is the installed one.
    if !std::path::Path::new("/usr/include/rados/librados.h").exists() {
        println!(
            "cargo::error=librados is required (/usr/include/rados/librados.h not found); install it with scripts/install-deps or `apt-get install librados-dev`"
        );
    }
}
