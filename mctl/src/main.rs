//! mctl: the command-line client of machined. Parse, enter the cluster's
//! network namespace when the command talks to nodes, run, exit 0 when
//! everything asked succeeded.

mod apply;
mod bootstrap;
mod cli;
mod cluster;
mod config_cmd;
mod dashboard;
mod docs;
mod etcd;
mod gen;
mod gen_cmd;
mod get;
mod health;
mod image;
mod mctlconfig;
mod observe;
mod output;
mod patch;
mod patch_cmd;
mod power;
mod session;
mod validate;
mod version;
mod vip;
mod vip_pin;

use clap::Parser;

fn main() {
    // A closed output pipe (`mctl logs etcd | head`) ends mctl quietly, as
    // it does other Unix tools, instead of a panic in println!.
    // SAFETY: before any thread exists; SIG_DFL is always a valid action.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    let cli = cli::Cli::parse();
    let netns = if cli.local() {
        Ok(None)
    } else {
        cli.target.netns()
    };
    let result = netns
        .and_then(|ns| ns.as_deref().map_or(Ok(()), session::enter_netns))
        .and_then(|_| {
            Ok(tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?)
        });
    let code = match result.and_then(|rt| rt.block_on(cli.run())) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("error: {}{}", output::chain(&e), session::where_hint());
            1
        }
    };
    std::process::exit(code);
}
