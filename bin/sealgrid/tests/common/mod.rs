//! Helpers shared by the CLI tests that run `sealgrid` against a real anvil (deploy.rs,
//! desk.rs): the checkout, a free port, anvil, the small local config, loopback HTTP and
//! JSON-RPC.

#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// The local config with only the checked-in verifiers (no keygen in a test) and `chain_id`.
pub(crate) fn small_config(dir: &Path, chain_id: u64) -> PathBuf {
    let text = std::fs::read_to_string(root().join("deploy/config/local.toml")).expect("local");
    let text = text
        .replace("chain_id = 31337", &format!("chain_id = {chain_id}"))
        .replace("capacities = [4, 16, 64, 256]", "capacities = [4, 16]")
        .replace("max_commitments = 256", "max_commitments = 16");
    let path = dir.join("small.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn anvil(port: u16, chain_id: u64) -> Killed {
    let bin = root().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    let child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--chain-id", &chain_id.to_string(), "--silent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("anvil");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "anvil did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Killed(child)
}

/// A minimal HTTP/1.1 exchange over loopback: (status line, body).
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(String, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out.lines().next().unwrap_or_default().to_owned();
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

pub(crate) fn rpc(port: u16, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body =
        serde_json::json!({"jsonrpc":"2.0","id":1,"method":method,"params":params}).to_string();
    let (_, text) = http(port, "POST", "/", &body).expect("rpc");
    let v: serde_json::Value = serde_json::from_str(&text).expect("rpc json");
    v["result"].clone()
}

/// `sealgrid deploy` of `config` to the anvil at `port`, writing `record` (add the key options).
pub(crate) fn deploy_command(port: u16, config: &Path, record: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sealgrid"));
    c.args(["deploy", "--rpc", &format!("http://127.0.0.1:{port}")])
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(record)
        .arg("--root")
        .arg(root());
    c
}
