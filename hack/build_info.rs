// Included by machined's and mctl's build scripts: the commit built and its
// date, for `--version`, `mctl version` and `machined_build_info`. The date
// is the commit's (or SOURCE_DATE_EPOCH's), not the clock's, so a build of
// one commit gives the same bytes (the OS image is checked for that).
fn build_info() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let commit = std::env::var("MACHINED_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let epoch_date = |s: String| {
        std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{s}"), "+%F"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let date = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(epoch_date)
        .or_else(|| git(&["log", "-1", "--format=%cs"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=MACHINED_COMMIT={commit}");
    println!("cargo:rustc-env=MACHINED_BUILD_DATE={date}");
    // What `--version` prints after the program's name.
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=MACHINED_VERSION_LINE={version} (commit {commit}, {date})");
    println!("cargo:rerun-if-env-changed=MACHINED_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/refs/heads");
        println!("cargo:rerun-if-changed={dir}/packed-refs");
    }
}
