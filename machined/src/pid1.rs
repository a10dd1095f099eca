//! machined as the init of a machine (PID 1 of the OS image). Before any
//! thread starts: mounts the API filesystems, loads the image's modules,
//! mounts the state disk at /var (formatting a blank one), makes the root
//! read-only; then forks. The child runs the daemon as usual; PID 1 stays
//! behind, reaps every process that ends (etcd's orphans included), passes
//! SIGTERM/SIGINT (and the ACPI power button) on to the daemon, and when the daemon ends stops what is
//! left, syncs, unmounts and reboots or powers off. PID 1 never exits.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::reboot::{reboot, RebootMode};
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The daemon's exit code asking PID 1 to reboot (`mctl reboot`).
pub const EXIT_REBOOT: i32 = 80;
/// The daemon's exit code asking PID 1 to power off (`mctl shutdown`).
pub const EXIT_POWEROFF: i32 = 81;

const STATE_DISK: &str = "/dev/vda";
const MODULES: &str = "/lib/modules";

/// Set by the signal handler of PID 1; read by its wait loop.
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_signal(sig: i32) {
    PENDING.store(sig, Ordering::SeqCst);
}

fn log(msg: &str) {
    eprintln!("machined[init]: {msg}");
}

fn mount_fs(fstype: &str, target: &str, flags: MsFlags, data: Option<&str>) {
    let _ = std::fs::create_dir_all(target);
    if let Err(e) = mount(Some(fstype), target, Some(fstype), flags, data) {
        log(&format!("mount {fstype} on {target}: {e}"));
    }
}

/// Parameters a module is loaded with. bonding would otherwise create a
/// `bond0` of its own (balance-rr) at load, and a configured bond0 would
/// find it there and never get its mode and options.
fn module_params(name: &str) -> &'static std::ffi::CStr {
    match name {
        "bonding" => c"max_bonds=0",
        _ => c"",
    }
}

fn load_modules() {
    let order = std::fs::read_to_string(Path::new(MODULES).join("load-order")).unwrap_or_default();
    for name in order.lines().filter(|l| !l.is_empty()) {
        let path = Path::new(MODULES).join(format!("{name}.ko"));
        let r = std::fs::File::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                nix::kmod::finit_module(
                    &f,
                    module_params(name),
                    nix::kmod::ModuleInitFlags::empty(),
                )
                .map_err(|e| e.to_string())
            });
        match r {
            Ok(()) => log(&format!("module {name} loaded")),
            Err(e) if e.contains("EEXIST") => {}
            Err(e) => log(&format!("module {name}: {e}")),
        }
    }
}

/// ext2/3/4 keep 0xEF53 at byte 1080.
fn has_ext_fs(dev: &str) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let mut magic = [0u8; 2];
    std::fs::File::open(dev)
        .and_then(|mut f| {
            f.seek(SeekFrom::Start(1080))?;
            f.read_exact(&mut magic)
        })
        .is_ok()
        && magic == [0x53, 0xef]
}

fn mount_state_disk() {
    // virtio_blk creates the node a moment after loading.
    let until = Instant::now() + Duration::from_secs(5);
    while !Path::new(STATE_DISK).exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    if !Path::new(STATE_DISK).exists() {
        log("no state disk (/dev/vda): /var is a tmpfs, nothing survives a reboot");
        mount_fs(
            "tmpfs",
            "/var",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            None,
        );
        return;
    }
    if !has_ext_fs(STATE_DISK) {
        log("state disk is blank: formatting it (ext4)");
        let st = std::process::Command::new("/usr/sbin/mke2fs")
            .args(["-q", "-F", "-t", "ext4", "-L", "machined-state", STATE_DISK])
            .status();
        if !st.as_ref().is_ok_and(|s| s.success()) {
            log(&format!("mke2fs {STATE_DISK} failed: {st:?}"));
        }
    }
    let _ = std::fs::create_dir_all("/var");
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    match mount(Some(STATE_DISK), "/var", Some("ext4"), flags, None::<&str>) {
        Ok(()) => log("state disk mounted on /var"),
        Err(e) => {
            log(&format!("mount {STATE_DISK} on /var: {e}; /var is a tmpfs"));
            mount_fs("tmpfs", "/var", flags, None);
        }
    }
}

fn setup() {
    let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount_fs("proc", "/proc", nosuid, None);
    mount_fs("sysfs", "/sys", nosuid, None);
    mount_fs("devtmpfs", "/dev", MsFlags::MS_NOSUID, Some("mode=0755"));
    mount_fs("tmpfs", "/run", nosuid, Some("mode=0755"));
    mount_fs("tmpfs", "/tmp", nosuid, Some("mode=1777"));
    load_modules();
    mount_state_disk();
    // Nothing writable but the state disk and the tmpfs mounts.
    let ro = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    if let Err(e) = mount(None::<&str>, "/", None::<&str>, ro, None::<&str>) {
        log(&format!("making / read-only: {e}"));
    }
    // Ctrl-Alt-Del becomes SIGINT to PID 1 (handled: a clean reboot).
    let _ = nix::sys::reboot::set_cad_enabled(false);
}

fn handle_signals() {
    let act = SigAction::new(
        SigHandler::Handler(note_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGPWR] {
        // SAFETY: the handler only stores to an atomic.
        let _ = unsafe { sigaction(s, &act) };
    }
}

/// Watches the ACPI power button (an input device named "Power Button")
/// and turns a press into SIGPWR to PID 1: a clean power-off.
fn watch_power_button() {
    let Ok(dir) = std::fs::read_dir("/sys/class/input") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("event") {
            continue;
        }
        let label = std::fs::read_to_string(e.path().join("device/name")).unwrap_or_default();
        if !label.contains("Power Button") {
            continue;
        }
        let dev = format!("/dev/input/{name}");
        let spawned = std::thread::Builder::new()
            .name("power-button".into())
            .spawn(move || read_power_button(&dev));
        if let Err(e) = spawned {
            log(&format!("power button watcher: {e}"));
        }
    }
}

fn read_power_button(dev: &str) {
    use std::io::Read;
    const EV_KEY: u16 = 1;
    const KEY_POWER: u16 = 116;
    // Signals go to PID 1's main thread (its wait loop), never this one.
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGPWR] {
        set.add(s);
    }
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_BLOCK,
        Some(&set),
        None,
    );
    let Ok(mut f) = std::fs::File::open(dev) else {
        log(&format!("cannot open {dev}"));
        return;
    };
    log(&format!("power button on {dev}"));
    // struct input_event on 64-bit: a timeval (16 bytes), type, code, value.
    let mut ev = [0u8; 24];
    while f.read_exact(&mut ev).is_ok() {
        let ty = u16::from_ne_bytes([ev[16], ev[17]]);
        let code = u16::from_ne_bytes([ev[18], ev[19]]);
        let value = i32::from_ne_bytes([ev[20], ev[21], ev[22], ev[23]]);
        if ty == EV_KEY && code == KEY_POWER && value == 1 {
            log("power button pressed: powering off");
            let _ = kill(Pid::this(), Signal::SIGPWR);
        }
    }
}

/// Stops every remaining process, syncs, unmounts /var, and reboots or
/// powers off. Never returns.
fn finish(mode: RebootMode) -> ! {
    let all = Pid::from_raw(-1);
    let _ = kill(all, Signal::SIGTERM);
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        match waitpid(all, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Err(nix::errno::Errno::ECHILD) => break,
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(50)),
            _ => {}
        }
    }
    let _ = kill(all, Signal::SIGKILL);
    nix::unistd::sync();
    if let Err(e) = umount2("/var", MntFlags::empty()) {
        log(&format!("unmounting /var: {e}; syncing only"));
        nix::unistd::sync();
    }
    log(&format!("{mode:?}"));
    let _ = reboot(mode);
    // reboot(2) only returns on failure; there is nothing left to do.
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// PID 1: sets the machine up and forks. Returns in the child (the
/// daemon); PID 1 itself never returns.
pub fn become_init() {
    setup();
    handle_signals();
    // SAFETY: no other thread exists yet.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => return,
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            log(&format!("fork: {e}; rebooting"));
            finish(RebootMode::RB_AUTOBOOT);
        }
    };
    log(&format!("daemon started (pid {child})"));
    watch_power_button();
    // A clean exit after SIGTERM or SIGPWR powers off; after SIGINT
    // (Ctrl-Alt-Del) it reboots.
    let mut on_clean_exit = RebootMode::RB_POWER_OFF;
    loop {
        let sig = PENDING.swap(0, Ordering::SeqCst);
        if sig != 0 {
            if sig == Signal::SIGINT as i32 {
                on_clean_exit = RebootMode::RB_AUTOBOOT;
            }
            let _ = kill(child, Signal::SIGTERM);
        }
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == child => finish(match code {
                EXIT_REBOOT => RebootMode::RB_AUTOBOOT,
                EXIT_POWEROFF => RebootMode::RB_POWER_OFF,
                0 => on_clean_exit,
                other => {
                    log(&format!("daemon failed (exit {other}); rebooting"));
                    RebootMode::RB_AUTOBOOT
                }
            }),
            Ok(WaitStatus::Signaled(pid, s, _)) if pid == child => {
                log(&format!("daemon killed by {s:?}; rebooting"));
                finish(RebootMode::RB_AUTOBOOT);
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                log(&format!("waitpid: {e}"));
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}
