//! What `mctl cluster create` will build, worked out and checked before
//! anything is touched: names, the subnet's addresses, the VIPs, binaries.

use super::qemu::Accel;
use super::record;
use super::{check_name, CreateArgs};
use anyhow::{anyhow, bail, Result};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// What create will build, checked before anything is touched.
pub struct Plan<'a> {
    pub a: &'a CreateArgs,
    pub net: Ipv4Net,
    /// Every VIP; the first is the API endpoint's.
    pub vips: Vec<Ipv4Addr>,
    /// The VIP group of each VIP (`--vip-groups`), in the same order.
    pub groups: Vec<Option<String>>,
    pub machined: PathBuf,
    pub dir: PathBuf,
    pub lan: String,
    /// (short name, address, control plane)
    pub nodes: Vec<(String, Ipv4Addr, bool)>,
    /// `--provisioner qemu`: the image and how the VMs run.
    pub vms: Option<(PathBuf, Accel)>,
}

impl Plan<'_> {
    /// The API endpoint's VIP.
    pub fn vip(&self) -> Ipv4Addr {
        self.vips[0]
    }
}

/// The group of each of `vips` VIPs split, in order, into `groups` groups
/// of (nearly) equal size; none with `groups` 0.
pub fn vip_groups(vips: usize, groups: u8) -> Result<Vec<Option<String>>> {
    let g = usize::from(groups);
    if g > vips {
        bail!("--vip-groups {g}: more groups than VIPs ({vips})");
    }
    Ok((0..vips)
        .map(|i| (g > 0).then(|| format!("vips-{}", i * g / vips + 1)))
        .collect())
}

/// Most VIPs a lab takes (`--vip` repeated).
const MAX_VIPS: usize = 64;

/// The VIPs (`--vip`, repeatable; default .50 of the subnet): addresses in
/// the subnet, each once.
fn vips(a: &CreateArgs, net: &Ipv4Net) -> Result<Vec<Ipv4Addr>> {
    if a.vip.len() > MAX_VIPS {
        bail!("--vip: at most {MAX_VIPS} (got {})", a.vip.len());
    }
    let mut out: Vec<Ipv4Addr> = Vec::new();
    for v in &a.vip {
        let ip: Ipv4Addr = v
            .parse()
            .map_err(|_| anyhow!("--vip {v:?} is not an IPv4 address"))?;
        if !net.contains(&ip) {
            bail!("--vip {ip} is outside --cidr {net}");
        }
        if out.contains(&ip) {
            bail!("--vip {ip} is given twice");
        }
        out.push(ip);
    }
    if out.is_empty() {
        out.push(host(net, 50)?);
    }
    Ok(out)
}

fn machined_bin(arg: &Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = arg {
        return Ok(p.clone());
    }
    let beside = std::env::current_exe()?.with_file_name("machined");
    if beside.exists() {
        return Ok(beside);
    }
    Ok(PathBuf::from("machined"))
}

pub fn host(net: &Ipv4Net, n: u32) -> Result<Ipv4Addr> {
    let ip = Ipv4Addr::from(u32::from(net.network()) + n);
    if !net.contains(&ip) || ip == net.broadcast() {
        bail!("--cidr {net}: too small for host .{n}");
    }
    Ok(ip)
}

pub fn plan(a: &CreateArgs) -> Result<Plan<'_>> {
    check_name(&a.name)?;
    if !nix::unistd::Uid::effective().is_root() {
        bail!("cluster create needs root (network namespaces)");
    }
    if a.controlplanes == 0 {
        bail!("--controlplanes: at least 1");
    }
    let net: Ipv4Net = a
        .cidr
        .parse()
        .map_err(|e| anyhow!("--cidr {:?}: {e}", a.cidr))?;
    let vips = vips(a, &net)?;
    let groups = vip_groups(vips.len(), a.vip_groups)?;
    let machined = machined_bin(&a.machined)?;
    let dir = record::dir(&a.name);
    if dir.exists() {
        bail!(
            "cluster {:?} exists ({}); destroy it first: mctl cluster destroy --name {}",
            a.name,
            dir.display(),
            a.name
        );
    }
    let mut nodes = Vec::new();
    for i in 1..=a.controlplanes {
        nodes.push((format!("cp{i}"), host(&net, 10 + u32::from(i))?, true));
    }
    for i in 1..=a.workers {
        nodes.push((format!("w{i}"), host(&net, 20 + u32::from(i))?, false));
    }
    if a.stand_in && a.provisioner != "netns" {
        bail!("--stand-in: only with --provisioner netns (the OS image carries no mctl to run it)");
    }
    if let Some(v) = vips
        .iter()
        .find(|v| nodes.iter().any(|(_, ip, _)| ip == *v))
    {
        bail!("--vip {v} collides with a node address");
    }
    Ok(Plan {
        a,
        net,
        vips,
        groups,
        machined,
        dir,
        lan: format!("{}-lan", a.name),
        nodes,
        vms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::vip_groups;

    #[test]
    fn vips_split_into_groups_in_order() {
        let names = |n, g| -> Vec<String> {
            vip_groups(n, g)
                .unwrap()
                .into_iter()
                .map(|x| x.unwrap_or_else(|| "-".into()))
                .collect()
        };
        assert_eq!(names(3, 0), ["-", "-", "-"]);
        assert_eq!(names(4, 2), ["vips-1", "vips-1", "vips-2", "vips-2"]);
        assert_eq!(names(3, 2), ["vips-1", "vips-1", "vips-2"]);
        assert_eq!(names(1, 1), ["vips-1"]);
        let e = vip_groups(2, 3).unwrap_err().to_string();
        assert!(
            e.contains("--vip-groups 3") && e.contains("more groups than VIPs"),
            "{e}"
        );
    }
}
