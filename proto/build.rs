//! Compiles `copro/coprocessor/v1/*.proto` with protox (pure Rust: no `protoc`
//! on the machine) and generates the Rust types with prost-build, including a
//! `prost::Name` impl per message. Also writes the encoded
//! `FileDescriptorSet` for reflection and tests.

use std::path::{Path, PathBuf};

use prost::Message;

/// The include root: imports are written relative to it.
const INCLUDE_ROOT: &str = ".";
/// The package directory, relative to the include root.
const PACKAGE_DIR: &str = "copro/coprocessor/v1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let package_dir = manifest_dir.join(PACKAGE_DIR);
    println!("cargo:rerun-if-changed={}", package_dir.display());

    let files = proto_files(&package_dir)?;
    for file in &files {
        println!(
            "cargo:rerun-if-changed={}",
            package_dir.join(file).display()
        );
    }
    let relative: Vec<String> = files.iter().map(|f| format!("{PACKAGE_DIR}/{f}")).collect();

    let fds = protox::compile(&relative, [manifest_dir.join(INCLUDE_ROOT)])?;
    std::fs::write(out_dir.join("copro_descriptor.bin"), fds.encode_to_vec())?;
    prost_build::Config::new()
        .enable_type_names()
        .compile_fds(fds)?;
    Ok(())
}

/// The `.proto` file names in `dir`, sorted so the output never depends on
/// directory order.
fn proto_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".proto") {
            files.push(name);
        }
    }
    files.sort();
    Ok(files)
}
