//! Device peers for the gateway's tests and benches: the simulated DLMS/COSEM meters of
//! `tests/peers/dlms_meter.py` (the Gurux stack, in the checkout's `.venv`).

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use crate::{DevkitError, DevkitResult};

fn peer_err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("DLMS simulator: {e}"))
}

/// Running simulated meters (killed on drop) and the port of each.
#[derive(Debug)]
pub struct DlmsSimulator {
    child: Child,
    /// Meter `i` listens on `127.0.0.1:ports[i]`.
    pub ports: Vec<u16>,
}

impl Drop for DlmsSimulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DlmsSimulator {
    /// Starts the simulator of the checkout at `root` with `args` (on free ports) and waits
    /// for its ready line.
    pub fn start(root: &Path, args: &[&str]) -> DevkitResult<Self> {
        let mut child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/peers/dlms_meter.py"))
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| {
                peer_err(format!(
                    "starting it (scripts/setup.sh installs gurux-dlms): {e}"
                ))
            })?;
        let stdout = child.stdout.take().ok_or_else(|| peer_err("no stdout"))?;
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let mut sim = Self {
            child,
            ports: Vec::new(),
        };
        read.map_err(peer_err)?;
        let v: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| peer_err(format!("its ready line {line:?}: {e}")))?;
        sim.ports = v["ports"]
            .as_array()
            .ok_or_else(|| peer_err(format!("no ports in {line:?}")))?
            .iter()
            .filter_map(|p| p.as_u64().and_then(|p| u16::try_from(p).ok()))
            .collect();
        Ok(sim)
    }

    /// Meter 0's profile entries in `[from, to]` from the simulator's generator with `args`:
    /// `(time, import Wh, export Wh)`.
    pub fn expected(
        root: &Path,
        args: &[&str],
        from: u64,
        to: u64,
    ) -> DevkitResult<Vec<(u64, u64, u64)>> {
        let out = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/peers/dlms_meter.py"))
            .args(args)
            .args(["--expect", &from.to_string(), &to.to_string()])
            .output()
            .map_err(peer_err)?;
        if !out.status.success() {
            return Err(peer_err(String::from_utf8_lossy(&out.stderr)));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(peer_err)?;
        v["entries"]
            .as_array()
            .ok_or_else(|| peer_err("no entries"))?
            .iter()
            .map(|e| {
                let n = |k: &str| e[k].as_u64().ok_or_else(|| peer_err(format!("entry {e}")));
                Ok((n("time")?, n("import_wh")?, n("export_wh")?))
            })
            .collect()
    }
}
