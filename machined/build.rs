// The commit and date this binary is built from (hack/build_info.rs).
include!("../hack/build_info.rs");

fn main() {
    build_info();
}
