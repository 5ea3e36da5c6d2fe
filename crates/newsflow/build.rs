//! Rebuilds the binary when the fixture outlets that `demo` carries change:
//! `include_dir!` does not tell cargo which files it read.

fn main() {
    println!("cargo:rerun-if-changed=tests/fixtures/outlets");
    println!("cargo:rerun-if-changed=crates/newsflow/build.rs");
}
